import { MongoClient } from 'mongodb';
import type { FastifyBaseLogger } from 'fastify';
import { createAdapter, type MongoAdapter, type MongoAdapterFactory, setupCollection } from '@switchyard/mongo-adapter';
import type { MongoConfig } from '../config.js';
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

export async function connectMongoCluster(
  config: MongoConfig,
  nodeId: string,
  log: FastifyBaseLogger,
): Promise<MongoCluster> {
  const client = new MongoClient(config.uri, { appName: `switchyard-${nodeId}` });
  try {
    await client.connect();
    const db = client.db(config.db);
    const { collection, sessions } = await setupCollection(db, ADAPTER_COLLECTION, { ttlSeconds: ADAPTER_TTL_SECONDS });
    const store = new MongoMessageStore(db);
    await store.setup();
    const adapterLog = log.child({ component: 'mongo-adapter' });
    const adapter = createAdapter(collection, {
      sessions,
      heartbeatInterval: config.heartbeatIntervalMs,
      heartbeatTimeout: config.heartbeatTimeoutMs,
      // The adapter binds { node, component } itself (component: 'mongo-adapter:<part>').
      logger: log,
    });
    adapter.events.on('gap', (gap) =>
      adapterLog.error({ gap }, 'change stream history lost: messages may be missing on this node'),
    );
    adapter.events.on('state', (state) => adapterLog.info(state, 'adapter state'));
    log.info({ db: config.db }, 'connected to MongoDB');
    let closed: Promise<void> | undefined;
    return { client, adapter, store, close: () => (closed ??= client.close()) };
  } catch (error) {
    await client.close().catch(() => undefined);
    throw error;
  }
}

/** The MongoDB adapter of the main namespace, when the server uses one. */
export function mongoAdapterOf(io: GatewayServer): MongoAdapter | undefined {
  const adapter = io.of('/').adapter as unknown as Partial<MongoAdapter>;
  return typeof adapter.health === 'function' ? (adapter as MongoAdapter) : undefined;
}
