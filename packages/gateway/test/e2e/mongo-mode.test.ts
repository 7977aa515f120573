import { randomUUID } from 'node:crypto';
import { MongoClient } from 'mongodb';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ChatMessage } from '@switchyard/protocol';
import { nodeOfSessionId } from '../../src/cluster/session-id.js';
import { ConfigError, defaultNodeId, loadConfig } from '../../src/config.js';
import { MongoMessageStore } from '../../src/store/mongo.js';
import {
  closeAll,
  connect,
  MongoStandIn,
  nextEvent,
  recordEvents,
  request,
  roundTrip,
  type StartedGateway,
  startMongoGateways,
  statusOf,
  waitFor,
} from '@switchyard/testkit';

/*
 * MongoDB mode in one process: two gateways on the stand-in, each with its own MongoClient, the
 * change-stream adapter between them and the MongoDB message store.
 */

let mongo: MongoStandIn;
let db = 0;

beforeAll(async () => {
  mongo = await MongoStandIn.start();
});
afterAll(async () => {
  await mongo?.stop();
});
afterEach(closeAll);

async function twoNodes(): Promise<[StartedGateway, StartedGateway]> {
  const [a, b] = await startMongoGateways(mongo, `mode${++db}`, ['na', 'nb']);
  return [a as StartedGateway, b as StartedGateway];
}

describe('gateway in MongoDB mode', () => {
  it('names its node in every Engine.IO session id', async () => {
    const [a] = await twoNodes();
    const socket = await connect(a.url, { transports: ['polling'] });
    expect(nodeOfSessionId(socket.io.engine.id)).toBe('na');
  });

  it('chats across nodes over polling and WebSocket, with cluster-wide members and shared history', async () => {
    const [a, b] = await twoNodes();
    const ada = await connect(a.url, { transports: ['polling'], auth: { name: 'Ada', userId: 'ada' } });
    const bob = await connect(b.url, { transports: ['websocket'], auth: { name: 'Bob', userId: 'bob' } });
    await request(ada, 'room:join', { room: 'lobby' });
    const joined = nextEvent(ada, 'presence:diff', (diff) => diff.joined.some((member) => member.id === 'bob'));
    const bobJoin = await request<{ ok: true; members: { id: string }[] }>(bob, 'room:join', { room: 'lobby' });
    expect(bobJoin, JSON.stringify(bobJoin)).toHaveProperty('members');
    expect(bobJoin.members.map((member) => member.id).sort()).toEqual(['ada', 'bob']);
    expect(await joined).toMatchObject({ room: 'lobby', left: [], count: 2 });

    const atBob = nextEvent(bob, 'message:new');
    const sent = await request<{ ok: true; message: ChatMessage }>(ada, 'message:send', {
      room: 'lobby',
      text: 'hi Bob',
      clientMessageId: randomUUID(),
    });
    expect(await atBob).toEqual(sent.message);
    const reply = await request<{ ok: true; message: ChatMessage }>(bob, 'message:send', {
      room: 'lobby',
      text: 'hi Ada',
      clientMessageId: randomUUID(),
    });
    expect(reply.message.id > sent.message.id).toBe(true);

    const page = await request<{ ok: true; messages: ChatMessage[] }>(ada, 'history:fetch', { room: 'lobby' });
    expect(page.messages.map((message) => message.text)).toEqual(['hi Bob', 'hi Ada']);
  });

  it('stores a retry once when it lands on another node', async () => {
    const [a, b] = await twoNodes();
    const onA = await connect(a.url, { transports: ['websocket'], auth: { name: 'Ada', userId: 'ada' } });
    const onB = await connect(b.url, { transports: ['polling'], auth: { name: 'Ada', userId: 'ada' } });
    await Promise.all([request(onA, 'room:join', { room: 'r' }), request(onB, 'room:join', { room: 'r' })]);
    const seenA = recordEvents(onA, 'message:new');
    const seenB = recordEvents(onB, 'message:new');
    const clientMessageId = randomUUID();
    const [first, second] = await Promise.all([
      request<{ ok: true; message: ChatMessage }>(onA, 'message:send', { room: 'r', text: 'once', clientMessageId }),
      request<{ ok: true; message: ChatMessage }>(onB, 'message:send', { room: 'r', text: 'once', clientMessageId }),
    ]);
    expect(second.message).toEqual(first.message);
    await waitFor('the broadcast', () => seenA.length >= 1 && seenB.length >= 1);
    await Promise.all([roundTrip(onA, 'r'), roundTrip(onB, 'r')]);
    const page = await request<{ ok: true; messages: ChatMessage[] }>(onA, 'history:fetch', { room: 'r' });
    expect(page.messages).toHaveLength(1);
    expect(seenA).toHaveLength(1);
    expect(seenB).toHaveLength(1);
  });

  it('is ready only while its change stream delivers, and exports the adapter metrics', async () => {
    const [a] = await twoNodes();
    const metrics = await (await fetch(`${a.url}/metrics`)).text();
    expect(metrics).toMatch(/^switchyard_adapter_ready 1$/m);
    expect(metrics).toMatch(/^switchyard_adapter_status\{status="ready"\} 1$/m);
    expect(metrics).toMatch(/^switchyard_adapter_status\{status="deaf"\} 0$/m);
    expect(metrics).toMatch(/^switchyard_adapter_mongo_primary 1$/m);
    expect(metrics).toMatch(/^switchyard_adapter_nodes 2$/m);
    expect(metrics).toContain('switchyard_adapter_publish_latency_seconds_count');

    mongo.faults.pauseChangeEvents();
    try {
      await waitFor('readiness to drop', async () => (await statusOf(`${a.url}/readyz`)) === 503);
      const body = (await (await fetch(`${a.url}/readyz`)).json()) as { code: string };
      // MongoDB has a primary, but this node's change stream brings nothing back: it cannot hear.
      expect(body).toMatchObject({ code: 'NOT_READY', status: 'deaf', mongo: 'primary', hearing: false });
    } finally {
      mongo.faults.resumeChangeEvents();
    }
    await waitFor('readiness to come back', async () => (await statusOf(`${a.url}/readyz`)) === 200);
  });
});

describe('MongoMessageStore', () => {
  let client: MongoClient;
  let store: MongoMessageStore;

  beforeAll(async () => {
    client = new MongoClient(mongo.uri);
    await client.connect();
    store = new MongoMessageStore(client.db('store'));
    await store.setup();
    await store.setup(); // idempotent
  });
  afterAll(async () => {
    await client?.close();
  });

  const author = { id: 'u1', name: 'U' };

  it('orders ids per room and pages backwards and forwards', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 12; i += 1)
      ids.push((await store.append({ room: 'paging', text: `m${i}`, author })).message.id);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(12);

    const latest = await store.latest('paging', 5);
    expect(latest.map((m) => m.text)).toEqual(['m7', 'm8', 'm9', 'm10', 'm11']);
    const older = await store.before('paging', latest[0]?.id, 5);
    expect(older.messages.map((m) => m.text)).toEqual(['m2', 'm3', 'm4', 'm5', 'm6']);
    expect(older.hasMore).toBe(true);
    const oldest = await store.before('paging', older.messages[0]?.id, 5);
    expect(oldest.messages.map((m) => m.text)).toEqual(['m0', 'm1']);
    expect(oldest.hasMore).toBe(false);
    const newer = await store.after('paging', ids[9] as string, 10);
    expect(newer).toEqual({
      messages: [expect.objectContaining({ text: 'm10' }), expect.objectContaining({ text: 'm11' })],
      gap: false,
    });
  });

  it('answers concurrent retries with the one stored message', async () => {
    const results = await Promise.all(
      Array.from({ length: 5 }, () => store.append({ room: 'retry', text: 'x', author, clientMessageId: 'c-1' })),
    );
    expect(results.filter((result) => result.created)).toHaveLength(1);
    expect(new Set(results.map((result) => result.message.id)).size).toBe(1);
    expect(await store.latest('retry', 10)).toHaveLength(1);
    // The same clientMessageId from another author, or in another room, is another message.
    expect(
      (await store.append({ room: 'retry', text: 'y', author: { id: 'u2', name: 'V' }, clientMessageId: 'c-1' }))
        .created,
    ).toBe(true);
    expect((await store.append({ room: 'retry-2', text: 'z', author, clientMessageId: 'c-1' })).created).toBe(true);
  });
});

describe('MongoDB mode configuration', () => {
  it('reads MONGODB_URI and the cluster settings, and stays in memory mode without it', () => {
    const config = loadConfig({
      MONGODB_URI: 'mongodb://db.example:27017/?replicaSet=rs0',
      MONGODB_DB: 'chat',
      NODE_ID: 'gw-7',
      ADAPTER_HEARTBEAT_INTERVAL_MS: '1000',
      ADAPTER_HEARTBEAT_TIMEOUT_MS: '4000',
      ADAPTER_NO_PRIMARY_GRACE_MS: '45000',
      MAX_DISCONNECTION_DURATION_MS: '30000',
      GATEWAY_WORKERS: '4',
    });
    expect(config.mongo).toEqual({
      uri: 'mongodb://db.example:27017/?replicaSet=rs0',
      db: 'chat',
      clusterLimits: true,
      heartbeatIntervalMs: 1000,
      heartbeatTimeoutMs: 4000,
      noPrimaryGraceMs: 45_000,
    });
    expect(loadConfig({ MONGODB_URI: 'mongodb://db' }).mongo?.noPrimaryGraceMs).toBe(30_000);
    expect(config).toMatchObject({ nodeId: 'gw-7', maxDisconnectionDurationMs: 30_000, workers: 4 });
    expect(loadConfig({}).mongo).toBeUndefined();
    // Recovery is on by default only where a client may come back to another node.
    expect(loadConfig({}).maxDisconnectionDurationMs).toBe(0);
    expect(loadConfig({ MONGODB_URI: 'mongodb://db' }).maxDisconnectionDurationMs).toBe(120_000);
  });

  it('derives a valid default NODE_ID from the host name and pid', () => {
    expect(defaultNodeId('Web_01.Example.COM', 42)).toBe('web-01-example-com-42');
    expect(defaultNodeId('___', 7)).toBe('node-7');
  });

  it('reports bad values by name, without echoing the connection string', () => {
    let problems: { name: string; received: string | undefined }[] = [];
    try {
      loadConfig({
        MONGODB_URI: 'postgres://user:secret@db',
        NODE_ID: 'GW.1',
        ADAPTER_HEARTBEAT_INTERVAL_MS: '5000',
        ADAPTER_HEARTBEAT_TIMEOUT_MS: '5000',
        GATEWAY_WORKERS: '0',
      });
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      problems = [...(error as ConfigError).problems];
    }
    expect(problems.map((problem) => problem.name).sort()).toEqual([
      'ADAPTER_HEARTBEAT_TIMEOUT_MS',
      'GATEWAY_WORKERS',
      'MONGODB_URI',
      'NODE_ID',
    ]);
    expect(JSON.stringify(problems)).not.toContain('secret');
  });
});
