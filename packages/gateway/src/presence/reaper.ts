import type { FastifyBaseLogger } from 'fastify';
import type { AdapterEventMap } from '@switchyard/mongo-adapter';
import type { Member, PresenceEvent } from '@switchyard/protocol';
import type { GatewayMetrics } from '../metrics/registry.js';
import { roomChannel, roomOfChannel } from '../rooms/channel.js';
import { clusterPresence } from './cluster.js';
import type { PresenceRegistry } from './registry.js';
import type { GatewayServer, GatewaySocket } from '../types.js';
import { mongoAdapterOf } from '../cluster/mongo.js';

/*
 * A node that dies (kill -9, lost network) never says `presence:leave` for its users. The cluster
 * adapter evicts it after the heartbeat timeout; this module then tells each surviving node's own
 * sockets which members vanished with it.
 *
 * To know who vanished, each node keeps the cluster-wide member list of every room it has sockets
 * in: seeded from the nodes' presence registries (`members:list`) when its first socket joins, then kept current by the
 * `presence:join` / `presence:leave` packets it delivers to its sockets (seen with `onAnyOutgoing`,
 * so remote announcements count too). On an eviction it recomputes each such room's presence and
 * emits `presence:leave`, to local sockets only, for every member that is gone. Every surviving node
 * does the same for its own sockets, so each client hears it once. Members who left normally were
 * already removed by their own announcement, so a graceful leave is never announced twice.
 */

export interface PresenceReaperOptions {
  io: GatewayServer;
  /** This node's room members (the other nodes' are asked with `members:list`). */
  presence: PresenceRegistry;
  metrics: GatewayMetrics;
  log: FastifyBaseLogger;
  /** How often the adapter's node list is checked for evictions (adapters without `node-left`). Default 500 ms. */
  pollMs?: number;
  /** Called once per evicted node. */
  onEviction?: (nodeUid: string) => void;
}

export interface PresenceReaper {
  close(): void;
}

interface HeartbeatAdapterInternals {
  /** socket.io-adapter's ClusterAdapterWithHeartbeat: uid → last seen. Not public API: only for adapters without `node-left`. */
  nodesMap?: Map<string, number>;
}

export function reapPresenceOfEvictedNodes({
  io,
  presence: registry,
  metrics,
  log,
  pollMs = 500,
  onEviction,
}: PresenceReaperOptions): PresenceReaper {
  const nsp = io.of('/');
  const adapter = nsp.adapter;
  /** room → members cluster-wide, for rooms with at least one socket on this node. */
  const known = new Map<string, Map<string, Member>>();
  /** room → user ids that left while the room's seed request was in flight. */
  const seeding = new Map<string, Set<string>>();

  const seed = async (room: string): Promise<void> => {
    const leftMeanwhile = new Set<string>();
    seeding.set(room, leftMeanwhile);
    try {
      const presence = await clusterPresence(io, registry, room);
      const members = known.get(room);
      if (!members) return;
      for (const member of presence.members) if (!leftMeanwhile.has(member.id)) members.set(member.id, member);
    } catch (err) {
      log.warn({ err, room }, 'presence seed failed');
    } finally {
      if (seeding.get(room) === leftMeanwhile) seeding.delete(room);
    }
  };

  const onJoinRoom = (channel: string, socketId: string): void => {
    const room = roomOfChannel(channel);
    const socket = room === undefined ? undefined : (nsp.sockets.get(socketId) as GatewaySocket | undefined);
    if (room === undefined || !socket?.data.user) return;
    let members = known.get(room);
    const fresh = members === undefined;
    if (!members) known.set(room, (members = new Map()));
    members.set(socket.data.user.id, socket.data.user);
    if (fresh) void seed(room);
  };
  const onDeleteRoom = (channel: string): void => {
    const room = roomOfChannel(channel);
    if (room !== undefined) known.delete(room);
  };
  adapter.on('join-room', onJoinRoom);
  adapter.on('delete-room', onDeleteRoom);

  // One listener shared by every socket: it needs no socket, and an idle socket should cost nothing.
  const onOutgoing = (event: string, payload: PresenceEvent): void => {
    if (event !== 'presence:join' && event !== 'presence:leave') return;
    const members = known.get(payload.room);
    if (!members) return;
    if (event === 'presence:join') {
      members.set(payload.member.id, payload.member);
      seeding.get(payload.room)?.delete(payload.member.id);
    } else {
      members.delete(payload.member.id);
      seeding.get(payload.room)?.add(payload.member.id);
    }
  };
  const onConnection = (socket: GatewaySocket): void => {
    socket.onAnyOutgoing(onOutgoing);
  };
  io.on('connection', onConnection);

  let reconciling: Promise<void> = Promise.resolve();
  const reconcile = async (): Promise<void> => {
    for (const [room, members] of [...known]) {
      let present: Set<string>;
      try {
        present = new Set((await clusterPresence(io, registry, room)).members.map((member) => member.id));
      } catch (err) {
        log.warn({ err, room }, 'presence check after node eviction failed');
        continue;
      }
      for (const [userId, member] of [...members]) {
        if (present.has(userId)) continue;
        members.delete(userId);
        io.local.to(roomChannel(room)).emit('presence:leave', { room, member });
        metrics.eventsOut.inc({ event: 'presence:leave' });
        log.info({ room, userId }, 'member left with an evicted node');
      }
    }
  };

  const onEvicted = (evicted: string[]): void => {
    for (const uid of evicted) onEviction?.(uid);
    log.info({ evicted }, 'cluster nodes evicted: checking presence');
    reconciling = reconciling.then(reconcile);
  };
  const stopWatching = watchEvictions(io, adapter, pollMs, onEvicted);

  return {
    close() {
      stopWatching();
      adapter.off('join-room', onJoinRoom);
      adapter.off('delete-room', onDeleteRoom);
      io.off('connection', onConnection);
      known.clear();
    },
  };
}

/**
 * Calls `onEvicted` with the nodes the cluster stops counting on. The MongoDB adapter says so itself
 * (`node-left`); other heartbeat adapters (the workers' cluster adapter) are polled. Returns the stop function.
 */
function watchEvictions(
  io: GatewayServer,
  adapter: unknown,
  pollMs: number,
  onEvicted: (evicted: string[]) => void,
): () => void {
  const mongo = mongoAdapterOf(io);
  if (mongo) {
    const self = mongo.health().node;
    const onNodeLeft = ({ node, nsp, uid }: AdapterEventMap['node-left']): void => {
      if (node === self && nsp === '/') onEvicted([uid]);
    };
    mongo.events.on('node-left', onNodeLeft);
    return () => mongo.events.off('node-left', onNodeLeft);
  }
  const nodes = (): Set<string> => new Set((adapter as HeartbeatAdapterInternals).nodesMap?.keys() ?? []);
  let previous = nodes();
  const timer = setInterval(() => {
    const current = nodes();
    const evicted = [...previous].filter((uid) => !current.has(uid));
    previous = current;
    if (evicted.length > 0) onEvicted(evicted);
  }, pollMs);
  timer.unref();
  return () => clearInterval(timer);
}
