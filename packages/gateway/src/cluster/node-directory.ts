import type { Collection, Db } from 'mongodb';
import type { Logger } from 'pino';

/*
 * Where each node can be reached by the others (its INTERNAL_URL), so a request of a session that
 * lands on the wrong node can be forwarded to the node named in the session id.
 *
 * MongoDB mode: every node upserts `{ _id: NODE_ID, url, expiresAt }` into the `nodes` collection at
 * every adapter heartbeat interval, with `expiresAt` one heartbeat timeout ahead (a TTL index removes
 * what nobody renews), and reads the live entries back in the same tick. A session id naming a node
 * this node has not heard of yet (it started a moment ago) triggers one early read, at most every
 * MIN_REFRESH_GAP_MS whatever the requests say: session ids are client input, and must not turn into
 * MongoDB queries. When MongoDB cannot be read, the last known addresses stay in use.
 *
 * Without MongoDB (GATEWAY_WORKERS between the workers of one machine) the only node is this one.
 */

export const NODES_COLLECTION = 'nodes';
const MIN_REFRESH_GAP_MS = 500;
/** How long a request may wait for that early read. */
const LOOKUP_WAIT_MS = 1_000;

export interface NodeDirectory {
  /** The base URL (`http://10.0.0.7:3000`) of a live node, or undefined. */
  urlOf(nodeId: string): Promise<string | undefined>;
  /** The URL of a node already known, without asking anyone (undefined: ask `urlOf`). */
  knownUrlOf(nodeId: string): string | undefined;
  /** Advertises this node's URL now (it changed: the port was just bound). */
  advertise(): Promise<void>;
  /** Stops advertising this node (it is going away) and stops reading. */
  close(): Promise<void>;
}

interface NodeDocument {
  _id: string;
  url: string;
  expiresAt: Date;
}

/** The directory of a lone node (or of the workers of one machine): itself. */
export function selfDirectory(nodeId: string, selfUrl: () => string | undefined): NodeDirectory {
  return {
    urlOf: async (id) => (id === nodeId ? selfUrl() : undefined),
    knownUrlOf: (id) => (id === nodeId ? selfUrl() : undefined),
    advertise: async () => undefined,
    close: async () => undefined,
  };
}

export interface MongoDirectoryOptions {
  db: Db;
  nodeId: string;
  /** This node's URL; read when advertising (undefined until the port is bound, with PORT=0). */
  selfUrl: () => string | undefined;
  intervalMs: number;
  /** An entry not renewed within this long is gone. */
  ttlMs: number;
  log: Logger;
}

export async function mongoDirectory(options: MongoDirectoryOptions): Promise<NodeDirectory> {
  const { db, nodeId, selfUrl, intervalMs, ttlMs, log } = options;
  const nodes: Collection<NodeDocument> = db.collection<NodeDocument>(NODES_COLLECTION);
  await nodes.createIndex({ expiresAt: 1 }, { expireAfterSeconds: 0 });
  let known = new Map<string, string>();
  let refreshing: Promise<void> | undefined;
  let lastRefresh = 0;
  let closed = false;

  const advertise = async (): Promise<void> => {
    const url = selfUrl();
    if (url === undefined) return;
    await nodes.updateOne(
      { _id: nodeId },
      { $set: { url, expiresAt: new Date(Date.now() + ttlMs) } },
      { upsert: true },
    );
  };
  const read = async (): Promise<void> => {
    const live = await nodes
      .find({ expiresAt: { $gt: new Date() } }, { projection: { url: 1 } })
      .limit(10_000)
      .toArray();
    known = new Map(live.map((doc) => [doc._id, doc.url]));
  };
  const refresh = (): Promise<void> =>
    (refreshing ??= read()
      .catch((error: unknown) => log.warn({ err: error }, 'could not read the node directory; keeping the last one'))
      .finally(() => {
        lastRefresh = Date.now();
        refreshing = undefined;
      }));
  const tick = async (): Promise<void> => {
    try {
      await advertise();
    } catch (error) {
      log.warn({ err: error }, 'could not advertise this node in the node directory');
    }
    await refresh();
  };

  await tick();
  const timer = setInterval(() => void tick(), intervalMs);
  timer.unref();

  return {
    async urlOf(id) {
      if (id === nodeId) return selfUrl();
      const url = known.get(id);
      if (url !== undefined || closed) return url;
      if (refreshing === undefined && Date.now() - lastRefresh < MIN_REFRESH_GAP_MS) return undefined;
      await Promise.race([refresh(), new Promise((resolve) => setTimeout(resolve, LOOKUP_WAIT_MS).unref())]);
      return known.get(id);
    },
    knownUrlOf: (id) => (id === nodeId ? selfUrl() : known.get(id)),
    advertise: tick,
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      await nodes.deleteOne({ _id: nodeId }).catch(() => undefined);
    },
  };
}
