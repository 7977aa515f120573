import { MongoClient } from 'mongodb';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createEmitter } from '@switchyard/mongo-adapter';
import type { ChatMessage, PresenceDiff } from '@switchyard/protocol';
import { ADAPTER_COLLECTION } from '../src/cluster/mongo.js';
import { roomChannel } from '../src/index.js';
import {
  API_KEY,
  closeAll,
  connect,
  MongoStandIn,
  openStream,
  publish,
  recordEvents,
  request,
  type StartedGateway,
  startMongoGateways,
  waitFor,
} from '@switchyard/testkit';

/*
 * SSE across nodes: two in-process gateways in MongoDB mode on the project's stand-in. Events
 * caused on one node (socket sends, presence, HTTP publishes) reach SSE streams on the other,
 * in the order that node's sockets see them, and a stream resumes on another node.
 */

let mongo: MongoStandIn;
let db = 0;
let database = '';

beforeAll(async () => {
  mongo = await MongoStandIn.start();
});
afterAll(async () => {
  await mongo?.stop();
});
afterEach(closeAll);

async function twoNodes(): Promise<[StartedGateway, StartedGateway]> {
  database = `sse${++db}`;
  const [a, b] = await startMongoGateways(mongo, database, ['sse-a', 'sse-b'], {
    RATE_LIMIT_PER_SECOND: '1000',
    API_KEYS: API_KEY,
    PUBLISH_RATE_LIMIT_MAX: '100000',
  });
  return [a as StartedGateway, b as StartedGateway];
}

describe('SSE across nodes (MongoDB mode)', () => {
  it('streams on node B what sockets and the HTTP API cause on node A, in the order B’s sockets see it', async () => {
    const [a, b] = await twoNodes();
    const stream = await openStream(`${b.url}/v1/rooms/lobby/events`);
    const watcher = await connect(b.url, { transports: ['websocket'], auth: { name: 'Watcher', userId: 'watcher' } });
    await request(watcher, 'room:join', { room: 'lobby' });
    const onSocket = recordEvents(watcher, 'message:new');

    const ada = await connect(a.url, { transports: ['websocket'], auth: { name: 'Ada', userId: 'ada' } });
    await request(ada, 'room:join', { room: 'lobby' });
    // Presence on B covers A's member too (A shares its members with B): B's stream lists both.
    const joinedIds = () =>
      stream.dataOf<PresenceDiff>('presence:diff').flatMap((diff) => diff.joined.map((member) => member.id));
    await waitFor('watcher and ada listed', () => joinedIds().includes('watcher') && joinedIds().includes('ada'));
    expect(stream.dataOf<PresenceDiff>('presence:diff').at(-1)?.count).toBe(2);

    // Interleaved: socket sends on A, HTTP publishes on A and on B.
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < 15; i += 1) {
      sends.push(request(ada, 'message:send', { room: 'lobby', text: `s${i}`, clientMessageId: `s${i}` }));
      sends.push(publish(a.url, 'lobby', { text: `ha${i}` }));
      sends.push(publish(b.url, 'lobby', { text: `hb${i}` }));
    }
    await Promise.all(sends);
    const streamed = await stream.waitForEvents<ChatMessage>('message:new', 45);
    await waitFor('every message on the socket', () => onSocket.length >= 45);
    expect(streamed.map((m) => m.id)).toEqual(onSocket.map((m) => m.id));
    expect(new Set(streamed.map((m) => m.id)).size).toBe(45);

    ada.disconnect();
    await waitFor('ada gone on B', () =>
      stream.dataOf<PresenceDiff>('presence:diff').some((diff) => diff.left.some((member) => member.id === 'ada')),
    );
    expect(stream.dataOf<PresenceDiff>('presence:diff').at(-1)).toMatchObject({ joined: [], count: 1 });
  });

  it('resumes on node B a stream cut on node A: every message once, in order', async () => {
    const [a, b] = await twoNodes();
    const first = await openStream(`${a.url}/v1/rooms/flow/events`);
    const sent: ChatMessage[] = [];
    for (let i = 0; i < 10; i += 1)
      sent.push((await publish(a.url, 'flow', { text: `m${i}` })).body as unknown as ChatMessage);
    await first.waitForEvents('message:new', 10);
    first.close();
    await first.ended;
    const lastEventId = first.events.filter((e) => e.event === 'message:new').at(-1)?.id ?? '';
    for (let i = 10; i < 20; i += 1)
      sent.push((await publish(a.url, 'flow', { text: `m${i}` })).body as unknown as ChatMessage);

    const second = await openStream(`${b.url}/v1/rooms/flow/events`, { 'last-event-id': lastEventId });
    for (let i = 20; i < 30; i += 1)
      sent.push((await publish(a.url, 'flow', { text: `m${i}` })).body as unknown as ChatMessage);
    await second.waitForEvents('message:new', 20);
    const received = [...first.dataOf<ChatMessage>('message:new'), ...second.dataOf<ChatMessage>('message:new')];
    expect(received.map((m) => m.id)).toEqual(sent.map((m) => m.id));
  });

  it('streams on every node what a MongoDB emitter in another process broadcasts to the room', async () => {
    const [a, b] = await twoNodes();
    const streams = await Promise.all([
      openStream(`${a.url}/v1/rooms/lobby/events`),
      openStream(`${b.url}/v1/rooms/lobby/events`),
    ]);
    const client = new MongoClient(mongo.uri);
    try {
      await client.connect();
      const emitter = createEmitter(client.db(database).collection(ADAPTER_COLLECTION));
      const message: ChatMessage = {
        id: '9000000000000001',
        room: 'lobby',
        text: 'from a batch job',
        author: { id: 'job', name: 'Job' },
        sentAt: new Date().toISOString(),
      };
      await emitter.to(roomChannel('lobby')).emit('message:new', message);
      for (const stream of streams) expect(await stream.waitForEvents('message:new', 1)).toEqual([message]);
    } finally {
      await client.close();
    }
  });
});
