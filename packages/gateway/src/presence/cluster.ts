import type { Logger } from 'pino';
import {
  compileValidator,
  type PresenceShare,
  PresenceSharesSchema,
  type PresenceSnapshot,
  PresenceSnapshotSchema,
} from '@switchyard/protocol';
import type { NodeLeftHook } from '../adapters/node-left.js';
import type { GatewayServer } from '../types.js';
import type { Presence, PresenceLink } from './presence.js';

/*
 * Presence between nodes, through the adapter's server-side events (the MongoDB adapter, or the
 * node:cluster one between GATEWAY_WORKERS):
 * - `presence:shares`: once per presence interval, one message with how this node's share of each
 *   changed room moved (users whose first socket here arrived, or whose last one left). Never one
 *   message per member: a mass join of ten thousand is one message per node per interval.
 * - Shares of a room are chained (`prev` = the seq of the previous one); a receiver that sees a
 *   break (a lost message, a node it learns about late) asks for snapshots (`presence:snapshot`)
 *   of that room rather than guess. A node also asks for them when it starts caring about a room
 *   (its first socket or SSE stream there).
 * - A node that leaves the cluster (its close, or the heartbeat timeout: the adapter's node-left)
 *   takes its share with it: every surviving node drops it and tells its own clients who left.
 */

export interface PresenceClusterOptions {
  io: GatewayServer;
  presence: Presence;
  nodes: NodeLeftHook;
  log: Logger;
}

/** Rooms per `presence:shares` message: keeps one message well below any broker's document size. */
const MAX_SHARE_ENTRIES = 5000;
/** A room whose shares broke is asked for again at most this often. */
const RESYNC_BACKOFF_MS = 1000;

const checkShares = compileValidator(PresenceSharesSchema);
const checkSnapshot = compileValidator(PresenceSnapshotSchema);

export interface PresenceCluster {
  close(): void;
}

export function linkPresenceCluster({ io, presence, nodes, log }: PresenceClusterOptions): PresenceCluster {
  const uid = adapterUid(io);
  const resyncing = new Set<string>();
  const again = new Map<string, NodeJS.Timeout>();
  let closed = false;

  const resync = (room: string): Promise<void> => {
    if (closed || resyncing.has(room)) return Promise.resolve();
    resyncing.add(room);
    return new Promise((resolve) => {
      io.serverSideEmit('presence:snapshot', room, (err: Error | null, replies: unknown[]) => {
        resyncing.delete(room);
        // A node that does not answer in time is left as it was; it is dropped if it is gone for good.
        if (err !== null) log.debug({ err, room }, 'presence snapshot incomplete');
        for (const reply of replies ?? []) {
          if (checkSnapshot.check(reply) && reply.uid !== uid) presence.applySnapshot(room, reply);
          else log.warn({ room }, 'malformed presence snapshot ignored');
        }
        resolve();
      });
    });
  };

  const resyncLater = (room: string): void => {
    // Replies travel in order with shares: a snapshot still on its way covers a break seen before it.
    if (closed || again.has(room) || resyncing.has(room)) return;
    const timer = setTimeout(() => {
      again.delete(room);
      void resync(room);
    }, RESYNC_BACKOFF_MS);
    timer.unref();
    again.set(room, timer);
  };

  const link: PresenceLink = {
    send(shares) {
      if (closed) return;
      for (const batch of batches(shares)) io.serverSideEmit('presence:shares', { uid, rooms: batch });
    },
    resync,
  };

  const onShares = (shares: unknown): void => {
    if (!checkShares.check(shares)) {
      log.warn('malformed presence shares ignored');
      return;
    }
    for (const share of shares.rooms) {
      const outcome = presence.applyShare(shares.uid, share);
      if (outcome === 'gap') {
        log.debug({ room: share.room, from: shares.uid }, 'presence shares out of sequence: resyncing');
        resyncLater(share.room);
      }
    }
  };
  const onSnapshot = (room: unknown, reply: unknown): void => {
    if (typeof room !== 'string' || typeof reply !== 'function') return;
    (reply as (snapshot: PresenceSnapshot) => void)(presence.snapshot(room, uid));
  };
  io.on('presence:shares', onShares);
  io.on('presence:snapshot', onSnapshot);
  const stopWatching = nodes.onNodeLeft(({ uid: left }) => {
    log.debug({ left }, 'cluster node left: dropping its presence share');
    presence.dropNode(left);
  });
  presence.link(link);

  return {
    close() {
      closed = true;
      stopWatching();
      io.off('presence:shares', onShares);
      io.off('presence:snapshot', onSnapshot);
      for (const timer of again.values()) clearTimeout(timer);
      again.clear();
    },
  };
}

/** The adapter's node id: what other nodes' node-left events and this node's shares name it by. */
function adapterUid(io: GatewayServer): string {
  const uid = (io.of('/').adapter as { uid?: unknown }).uid;
  if (typeof uid !== 'string' && typeof uid !== 'number')
    throw new TypeError('The cluster adapter has no uid: presence cannot name this node to the others');
  return String(uid);
}

function* batches(shares: PresenceShare[]): Generator<PresenceShare[]> {
  let batch: PresenceShare[] = [];
  let entries = 0;
  for (const share of shares) {
    const size = share.joined.length + share.left.length + 1;
    if (batch.length > 0 && entries + size > MAX_SHARE_ENTRIES) {
      yield batch;
      batch = [];
      entries = 0;
    }
    batch.push(share);
    entries += size;
  }
  if (batch.length > 0) yield batch;
}
