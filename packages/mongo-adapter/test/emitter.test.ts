import { MongoClient } from 'mongodb';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createEmitter, type MongoEmitter } from '../src/index.js';
import {
  closeClients,
  connect,
  onStandIn,
  record,
  startCluster,
  startMongo,
  waitFor,
  type Mongo,
  type Node,
} from './support.js';

let mongo: Mongo;
let nodes: Node[] = [];
let client: MongoClient;
let emitter: MongoEmitter;

beforeAll(async () => {
  mongo = await startMongo();
  nodes = await startCluster(mongo, 2);
  for (const node of nodes) {
    node.io.on('connection', (socket) => {
      socket.on('join', (room: string, done: () => void) => {
        void socket.join(room);
        done();
      });
    });
  }
  client = new MongoClient(mongo.uri, { appName: 'emitter-process', serverSelectionTimeoutMS: 5000 });
  await client.connect();
  emitter = createEmitter(client.db(mongo.dbName).collection('socket.io'));
});
afterEach(() => {
  closeClients();
  mongo.standIn?.faults.reset();
});
afterAll(async () => {
  await emitter.close();
  await client.close();
  await Promise.all(nodes.map((n) => n.close()));
  await mongo.stop();
});

describe('createEmitter: publishing without a socket.io server', () => {
  it('emits to every client, to rooms and except rooms, awaiting the write', async () => {
    const clients = await Promise.all(nodes.map((n) => connect(n)));
    await clients[1]!.timeout(2000).emitWithAck('join', 'vip');
    const all = clients.map((c) => record<unknown>(c, 'all'));
    const vip = clients.map((c) => record<unknown>(c, 'vip'));
    const rest = clients.map((c) => record<unknown>(c, 'rest'));
    await emitter.emit('all', { n: 1, bytes: Buffer.from([9]) });
    await emitter.to('vip').emit('vip', 'v');
    await emitter.except('vip').emit('rest', 'r');
    await emitter.emit('all', 'sentinel');
    await waitFor('sentinel everywhere', () => all.every((g) => g.length === 2));
    expect(vip).toEqual([[], ['v']]);
    expect(rest).toEqual([['r'], []]);
    for (const g of all) expect([...new Uint8Array((g[0] as { bytes: ArrayBuffer }).bytes)]).toEqual([9]);
  });

  it('makes sockets join and leave rooms, and disconnects them', async () => {
    const clients = await Promise.all(nodes.map((n) => connect(n)));
    await emitter.socketsJoin('club');
    await waitFor('both in club', async () => (await nodes[0]!.io.in('club').fetchSockets()).length === 2);
    await emitter.in(clients[0]!.id!).socketsLeave('club');
    await waitFor('one left club', async () => (await nodes[1]!.io.in('club').fetchSockets()).length === 1);
    await emitter.in('club').disconnectSockets();
    await waitFor('the club member disconnected', () => !clients[1]!.connected);
    expect(clients[0]!.connected).toBe(true);
  });

  it('emits to the servers themselves', async () => {
    const got: unknown[][] = nodes.map(() => []);
    nodes.forEach((node, i) => node.io.on('from-emitter', (v: unknown) => got[i]!.push(v)));
    await emitter.serverSideEmit('from-emitter', 42);
    await waitFor('both servers got it', () => got.every((g) => g.length === 1));
    expect(got).toEqual([[42], [42]]);
    // The emitter is not counted as a server.
    expect(await nodes[0]!.adapter().serverCount()).toBe(2);
  });

  it('rejects, with a code, what it cannot publish (official adapter failure 13: never fire-and-forget)', async () => {
    await expect(emitter.emit('connect')).rejects.toMatchObject({ code: 'RESERVED_EVENT' });
    await expect(emitter.emit('x', () => undefined)).rejects.toMatchObject({ code: 'ACK_NOT_SUPPORTED' });
    await expect(emitter.emit('x', Buffer.alloc(16 * 1024 * 1024))).rejects.toMatchObject({
      code: 'PAYLOAD_TOO_LARGE',
    });
    if (!onStandIn) return;
    mongo.standIn!.faults.failCommands({
      commands: ['insert'],
      times: 5,
      code: 8000,
      errorLabels: [],
      appName: 'emitter-process',
    });
    await expect(emitter.emit('x', 1)).rejects.toMatchObject({ code: 'PUBLISH_FAILED' });
  });
});
