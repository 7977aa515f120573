import type { Collection, Db } from 'mongodb';
import type { Logger } from 'pino';
import type { NodeLeftHook } from '../adapters/node-left.js';

/*
 * MAX_SOCKETS_PER_USER across the cluster (MongoDB mode): one small document per open socket in
 * `user_sockets` — `{ user, node, expiresAt }` — so N nodes allow the limit once, not N times.
 *
 * Admission inserts the socket's document first and then counts the user's documents (one indexed
 * count): a socket is admitted only when the count, its own included, is within the limit, else it
 * removes its document and is refused. Two handshakes racing on two nodes may both be refused,
 * never both admitted past the limit. Cost: two round trips per connect, one per disconnect.
 *
 * Documents never outlive their node for long: a node deletes its sockets' documents as they go,
 * every survivor deletes a dead node's at once (the adapter's "node left"), and each node refreshes
 * `expiresAt` of its own every REFRESH_MS (one updateMany), so a TTL index removes those of a node
 * that died with the whole cluster within EXPIRE_AFTER_MS (plus the TTL monitor's minute).
 */

export const USER_SOCKETS_COLLECTION = 'user_sockets';
const REFRESH_MS = 30_000;
const EXPIRE_AFTER_MS = 120_000;
const DUPLICATE_KEY = 11000;

interface UserSocketDocument {
  /** `<node>/<socket id>`: a recovered socket gets a document of its own on its new node. */
  _id: string;
  user: string;
  node: string;
  expiresAt: Date;
}

export interface ClusterSocketsPerUser {
  /** Takes a slot for this socket of `userId` across the cluster; false when the user has `max` already. */
  reserve(userId: string, socketId: string): Promise<boolean>;
  release(socketId: string): void;
  close(): Promise<void>;
}

/** Creates the indexes (idempotent, every start). */
export async function setupUserSockets(db: Db): Promise<void> {
  const sockets = db.collection<UserSocketDocument>(USER_SOCKETS_COLLECTION);
  await sockets.createIndex({ user: 1 }, { name: 'user' });
  await sockets.createIndex({ node: 1 }, { name: 'node' });
  await sockets.createIndex({ expiresAt: 1 }, { name: 'expiresAt_ttl', expireAfterSeconds: 0 });
}

export function clusterSocketsPerUser(options: {
  db: Db;
  /** This node's adapter uid: what the others' "node left" names. */
  node: string;
  max: number;
  nodes: NodeLeftHook | undefined;
  log: Logger;
}): ClusterSocketsPerUser {
  const { db, node, max, nodes, log } = options;
  const sockets: Collection<UserSocketDocument> = db.collection(USER_SOCKETS_COLLECTION);
  const idOf = (socketId: string): string => `${node}/${socketId}`;
  const expiresAt = (): Date => new Date(Date.now() + EXPIRE_AFTER_MS);
  const quietly = (what: string) => (err: unknown) => log.warn({ err }, `user sockets: ${what} failed`);

  const refresh = setInterval(() => {
    sockets.updateMany({ node }, { $set: { expiresAt: expiresAt() } }).catch(quietly('refresh'));
  }, REFRESH_MS);
  refresh.unref();
  const stopListening = nodes?.onNodeLeft(({ uid }) => {
    sockets.deleteMany({ node: uid }).catch(quietly('cleanup of a node that left'));
  });

  return {
    async reserve(userId, socketId) {
      const _id = idOf(socketId);
      try {
        await sockets.insertOne({ _id, user: userId, node, expiresAt: expiresAt() });
      } catch (error) {
        // The same socket handshaking again on this node: it already holds its slot.
        if ((error as { code?: unknown }).code !== DUPLICATE_KEY) throw error;
      }
      const open = await sockets.countDocuments({ user: userId });
      if (open <= max) return true;
      await sockets.deleteOne({ _id });
      return false;
    },
    release(socketId) {
      sockets.deleteOne({ _id: idOf(socketId) }).catch(quietly('release'));
    },
    async close() {
      clearInterval(refresh);
      stopListening?.();
      await sockets.deleteMany({ node }).catch(quietly('cleanup on close'));
    },
  };
}
