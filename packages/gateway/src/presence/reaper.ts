import type { Logger } from 'pino';
import type { Member } from '@switchyard/protocol';
import type { NodeLeftHook } from '../adapters/node-left.js';
import { roomOfChannel } from '../rooms/channel.js';
import type { RoomEvents } from '../rooms/room-events.js';
import type { GatewayServer, GatewaySocket } from '../types.js';
import type { Presence } from './presence.js';

/*
 * A node that dies (kill -9, lost network) never says `presence:leave` for its users. The adapter
 * stops counting on it after the heartbeat timeout and says so (its public "node left" hook); this
 * module then tells each surviving node's own sockets which members vanished with it.
 *
 * To know who vanished, each node keeps the cluster-wide member list of every room it has sockets
 * in: seeded from the nodes' presence registries (`members:list`) when its first socket joins, then
 * kept current by the `presence:join` / `presence:leave` events this node delivers (the adapter's
 * "delivered locally" hook, so remote announcements count too). On an eviction it recomputes each
 * such room's presence and announces, to local sockets only, every member that is gone. Every
 * surviving node does the same for its own sockets, so each client hears it once. Members who left
 * normally were already removed by their own announcement, so a graceful leave is never announced twice.
 */

export interface PresenceReaperOptions {
  io: GatewayServer;
  presence: Presence;
  roomEvents: RoomEvents;
  nodes: NodeLeftHook;
  log: Logger;
}

export interface PresenceReaper {
  close(): void;
}

export function reapPresenceOfEvictedNodes({
  io,
  presence,
  roomEvents,
  nodes,
  log,
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
      const { members: present } = await presence.members(room);
      const members = known.get(room);
      if (!members) return;
      for (const member of present) if (!leftMeanwhile.has(member.id)) members.set(member.id, member);
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

  const stopListening = roomEvents.listen((room, event, payload) => {
    if (event !== 'presence:join' && event !== 'presence:leave') return;
    const members = known.get(room);
    if (!members) return;
    const { member } = payload as { member: Member };
    if (event === 'presence:join') {
      members.set(member.id, member);
      seeding.get(room)?.delete(member.id);
    } else {
      members.delete(member.id);
      seeding.get(room)?.add(member.id);
    }
  });

  let reconciling: Promise<void> = Promise.resolve();
  const reconcile = async (): Promise<void> => {
    for (const [room, members] of [...known]) {
      let present: Set<string>;
      try {
        present = new Set((await presence.members(room)).members.map((member) => member.id));
      } catch (err) {
        log.warn({ err, room }, 'presence check after node eviction failed');
        continue;
      }
      for (const [userId, member] of [...members]) {
        if (present.has(userId)) continue;
        members.delete(userId);
        presence.announceLost(room, member);
        log.info({ room, userId }, 'member left with an evicted node');
      }
    }
  };

  const stopWatching = nodes.onNodeLeft(({ uid }) => {
    log.debug({ evicted: uid }, 'cluster node left: checking presence');
    reconciling = reconciling.then(reconcile);
  });

  return {
    close() {
      stopWatching();
      stopListening();
      adapter.off('join-room', onJoinRoom);
      adapter.off('delete-room', onDeleteRoom);
      known.clear();
    },
  };
}
