import type { ServerOptions } from 'socket.io';
import type { BareServerConfig } from './server-config.js';

/** A cluster adapter for a bare socket.io server, with what must be closed after it. */
export interface BenchAdapter {
  factory: NonNullable<ServerOptions['adapter']>;
  close(): Promise<void>;
}

async function redisAdapter(config: BareServerConfig): Promise<BenchAdapter> {
  if (!config.redisUrl) throw new Error('the redis adapter needs redisUrl');
  const { createClient } = await import('redis');
  const { createAdapter } = await import('@socket.io/redis-adapter');
  const pub = createClient({ url: config.redisUrl });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  return {
    factory: createAdapter(pub, sub),
    close: async () => {
      await Promise.allSettled([pub.quit(), sub.quit()]);
    },
  };
}

/** The collection both MongoDB adapters share, created once (TTL on `createdAt`); a node that finds it exists moves on. */
async function mongoCollection(config: BareServerConfig) {
  if (!config.mongoUri) throw new Error('the MongoDB adapters need mongoUri');
  const { MongoClient } = await import('mongodb');
  const client = new MongoClient(config.mongoUri);
  await client.connect();
  const db = client.db('switchyard_bench');
  const name = config.mongoCollection ?? 'socket.io-adapter-events';
  try {
    await db.createCollection(name);
    await db.collection(name).createIndex({ createdAt: 1 }, { expireAfterSeconds: 3600 });
  } catch (error) {
    // NamespaceExists (48): another node created it first.
    if ((error as { code?: unknown }).code !== 48) throw error;
  }
  return { client, collection: db.collection(name) };
}

async function officialMongoAdapter(config: BareServerConfig): Promise<BenchAdapter> {
  const { client, collection } = await mongoCollection(config);
  const { createAdapter } = await import('@socket.io/mongo-adapter');
  // The official adapter types the collection with its own copy of the driver's types.
  const factory = createAdapter(collection as unknown as Parameters<typeof createAdapter>[0], {
    addCreatedAtField: true,
  });
  return { factory, close: () => client.close() };
}

async function switchyardMongoAdapter(config: BareServerConfig): Promise<BenchAdapter> {
  if (!config.mongoUri) throw new Error('the MongoDB adapters need mongoUri');
  const { MongoClient } = await import('mongodb');
  const { createAdapter, setupCollection } = await import('@switchyard/mongo-adapter');
  const client = new MongoClient(config.mongoUri);
  await client.connect();
  // The adapter's own setup helper: idempotent, so every node runs it. Defaults otherwise (write concern majority).
  const { collection, sessions } = await setupCollection(
    client.db('switchyard_bench'),
    config.mongoCollection ?? 'switchyard-adapter-events',
  );
  const factory = createAdapter(collection, { sessions });
  // MongoAdapterFactory is a plain constructor type, not socket.io's `typeof Adapter` (its statics differ).
  return { factory: factory as unknown as BenchAdapter['factory'], close: () => client.close() };
}

/**
 * Builds the adapter a bare server is configured with. `memory` (socket.io's default) needs none. The
 * cluster adapters are imported lazily so a missing optional piece only breaks the scenario that uses it.
 */
export async function createBenchAdapter(config: BareServerConfig): Promise<BenchAdapter | undefined> {
  switch (config.adapter) {
    case 'memory':
      return undefined;
    case 'redis':
      return redisAdapter(config);
    case 'mongo-official':
      return officialMongoAdapter(config);
    case 'mongo-switchyard':
      return switchyardMongoAdapter(config);
  }
}
