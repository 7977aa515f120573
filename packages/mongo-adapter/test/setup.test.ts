import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdapter, setupCollection } from '../src/index.js';
import { onStandIn, startMongo, type Mongo } from './support.js';

let mongo: Mongo;
let client: MongoClient;

beforeAll(async () => {
  mongo = await startMongo();
  client = new MongoClient(mongo.uri);
  await client.connect();
});
afterAll(async () => {
  await client.close();
  await mongo.stop();
});

describe('setupCollection', () => {
  it('creates the collection and its TTL indexes, idempotently', async () => {
    const db = client.db(mongo.dbName);
    const first = await setupCollection(db, 'events', { ttlSeconds: 120 });
    const second = await setupCollection(db, 'events', { ttlSeconds: 120 });
    expect(second.collection.collectionName).toBe('events');
    expect(first.sessions.collectionName).toBe('events');
    const indexes = await db.collection('events').listIndexes().toArray();
    const ttl = Object.fromEntries(
      indexes
        .filter((i) => i.expireAfterSeconds !== undefined)
        .map((i) => [Object.keys(i.key as object)[0], i.expireAfterSeconds]),
    );
    expect(ttl).toEqual({ createdAt: 120, expiresAt: 0 });
  });

  it('updates a changed TTL in place', async () => {
    const db = client.db(mongo.dbName);
    await setupCollection(db, 'retuned', { ttlSeconds: 120 });
    await setupCollection(db, 'retuned', { ttlSeconds: 300 });
    const indexes = await db.collection('retuned').listIndexes().toArray();
    expect(indexes.find((i) => i.name === 'createdAt_ttl')?.expireAfterSeconds).toBe(300);
  });

  it('creates a capped collection with a separate sessions collection', async () => {
    const db = client.db(mongo.dbName);
    const { collection, sessions } = await setupCollection(db, 'capped-events', { capped: { sizeBytes: 1024 * 1024 } });
    await setupCollection(db, 'capped-events', { capped: { sizeBytes: 1024 * 1024 } });
    expect(await collection.isCapped()).toBe(true);
    expect(sessions.collectionName).toBe('capped-events_sessions');
  });

  it('rejects contradictory options with one coded error', async () => {
    await expect(
      setupCollection(client.db(mongo.dbName), 'x', { ttlSeconds: 0, capped: { sizeBytes: 1 } }),
    ).rejects.toMatchObject({
      code: 'INVALID_OPTIONS',
      details: expect.arrayContaining([expect.stringContaining('ttlSeconds'), expect.stringContaining('capped')]),
    });
  });
});

describe('createAdapter options', () => {
  it('reports every invalid option at once', () => {
    const collection = client.db(mongo.dbName).collection('events');
    expect(() => createAdapter(collection, { heartbeatInterval: -1, heartbeatTimeout: 5, maxBatchDocs: 0 })).toThrow(
      expect.objectContaining({
        code: 'INVALID_OPTIONS',
        details: expect.arrayContaining([
          expect.stringContaining('heartbeatInterval'),
          expect.stringContaining('maxBatchDocs'),
        ]),
      }),
    );
  });
});

if (!onStandIn) console.warn('[mongo-adapter] setup tests ran against MONGODB_URI');
