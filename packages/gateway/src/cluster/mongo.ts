import { MongoClient } from 'mongodb';
import type { Logger } from 'pino';
import { createAdapter, MongoAdapter, type MongoAdapterFactory, setupCollection } from '@switchyard/mongo-adapter';
import type { MongoConfig } from '../config.js';
import { componentLogger } from '../logging.js';
import { MongoMessageStore } from '../store/mongo.js';
import type { GatewayServer } from '../types.js';

/*
 * MongoDB mode: one MongoClient per gateway process, shared by the change-stream adapter (fan-out
 * between nodes, connection state recovery) and the message store (history). Collections and
 * indexes are created at start-up; every step is idempotent, so all nodes may start at once.
 */

/** The adapter's inter-node messages and recovery sessions. */
export const ADAPTER_COLLECTION = 'socket.io-adapter';
/** Inter-node messages are read from the change stream, never from the collection: the TTL only bounds its size. */
const ADAPTER_TTL_SECONDS = 3600;

export interface MongoCluster {
  readonly client: MongoClient;
  readonly adapter: MongoAdapterFactory;
  readonly store: MongoMessageStore;
  /** Closes the client; call after Socket.IO (and so the adapter) has closed. */
  close(): Promise<void>;
}

export async function connectMongoCluster(config: MongoConfig, nodeId: string, log: Logger): Promise<MongoCluster> {
  const client = new MongoClient(config.uri, { appName: `switchyard-${nodeId}` });
  try {
    await client.connect();
    const db = client.db(config.db);
    const { collection, sessions } = await setupCollection(db, ADAPTER_COLLECTION, { ttlSeconds: ADAPTER_TTL_SECONDS });
    const store = new MongoMessageStore(db);
    await store.setup();
    // The adapter logs what it reports (gaps, state changes) itself; the gateway does not again.
    const adapter = createAdapter(collection, {
      sessions,
      heartbeatInterval: config.heartbeatIntervalMs,
      heartbeatTimeout: config.heartbeatTimeoutMs,
      // The adapter binds { uid, component: 'mongo-adapter:<part>' } itself, under this node's logger.
      logger: log,
    });
    componentLogger(log, 'cluster').info({ db: config.db }, 'connected to MongoDB');
    let closed: Promise<void> | undefined;
    return { client, adapter, store, close: () => (closed ??= client.close()) };
  } catch (error) {
    await client.close().catch(() => undefined);
    throw error;
  }
}

/** The MongoDB adapter of the main namespace, when the server uses one. */
export function mongoAdapterOf(io: GatewayServer): MongoAdapter | undefined {
  const adapter: unknown = io.of('/').adapter;
  return adapter instanceof MongoAdapter ? adapter : undefined;
}
