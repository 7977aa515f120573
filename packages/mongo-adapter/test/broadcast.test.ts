import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Socket as ClientSocket } from 'socket.io-client';
import { closeClients, connect, record, startCluster, startMongo, waitFor, type Mongo, type Node } from './support.js';

let mongo: Mongo;
let nodes: Node[] = [];
let clients: ClientSocket[] = [];

beforeAll(async () => {
  mongo = await startMongo();
  nodes = await startCluster(mongo, 3);
  for (const node of nodes) {
    node.io.of('/custom');
    node.io.on('connection', (socket) => {
      socket.on('join', (room: string, done: () => void) => {
        void socket.join(room);
        done();
      });
    });
  }
});

afterEach(() => {
  closeClients();
  for (const node of nodes) for (const socket of node.io.sockets.sockets.values()) socket.disconnect(true);
});

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.close()));
  await mongo.stop();
});

async function oneClientPerNode(nsp = '/'): Promise<ClientSocket[]> {
  clients = await Promise.all(nodes.map((n) => connect(n, nsp)));
  return clients;
}

async function join(client: ClientSocket, room: string): Promise<void> {
  await client.timeout(2000).emitWithAck('join', room);
}

describe('broadcasting across nodes', () => {
  it('broadcasts to all clients of every node', async () => {
    const clients = await oneClientPerNode();
    const got = clients.map((c) => record<number>(c, 'hello'));
    nodes[0]!.io.emit('hello', 1);
    await waitFor('every client got it', () => got.every((g) => g.length === 1));
    expect(got).toEqual([[1], [1], [1]]);
  });

  it('broadcasts to a namespace only', async () => {
    const main = await oneClientPerNode('/');
    const custom = await Promise.all(nodes.map((n) => connect(n, '/custom')));
    const gotMain = main.map((c) => record(c, 'ns'));
    const gotCustom = custom.map((c) => record<string>(c, 'ns'));
    nodes[1]!.io.of('/custom').emit('ns', 'custom-only');
    nodes[1]!.io.emit('ns-done', 1);
    await waitFor('custom clients got it', () => gotCustom.every((g) => g.length === 1));
    const done = main.map((c) => record(c, 'ns-done'));
    nodes[1]!.io.emit('ns-done', 2);
    await waitFor('main clients got the later message', () => done.every((g) => g.length === 1));
    expect(gotMain).toEqual([[], [], []]);
    expect(gotCustom).toEqual([['custom-only'], ['custom-only'], ['custom-only']]);
  });

  it('broadcasts to a room, and to everyone except a room', async () => {
    const clients = await oneClientPerNode();
    await join(clients[0]!, 'blue');
    await join(clients[2]!, 'blue');
    const room = clients.map((c) => record<string>(c, 'room'));
    const except = clients.map((c) => record<string>(c, 'except'));
    nodes[1]!.io.to('blue').emit('room', 'r');
    nodes[1]!.io.except('blue').emit('except', 'e');
    await waitFor(
      'room members got it',
      () => room[0]!.length === 1 && room[2]!.length === 1 && except[1]!.length === 1,
    );
    nodes[1]!.io.emit('room', 'sentinel');
    await waitFor('sentinel everywhere', () => room.every((g) => g.includes('sentinel')));
    expect(room).toEqual([['r', 'sentinel'], ['sentinel'], ['r', 'sentinel']]);
    expect(except).toEqual([[], ['e'], []]);
  });

  it('broadcasts to local clients only with the local flag', async () => {
    const clients = await oneClientPerNode();
    const got = clients.map((c) => record<string>(c, 'local'));
    nodes[2]!.io.local.emit('local', 'here');
    nodes[2]!.io.emit('local', 'everywhere');
    await waitFor('everyone got the later message', () => got.every((g) => g.includes('everywhere')));
    expect(got).toEqual([['everywhere'], ['everywhere'], ['here', 'everywhere']]);
  });

  it('keeps the order of many quick broadcasts from one node', async () => {
    const clients = await oneClientPerNode();
    const got = clients.map((c) => record<number>(c, 'seq'));
    for (let i = 0; i < 300; i++) nodes[0]!.io.emit('seq', i);
    await waitFor('all 300 everywhere', () => got.every((g) => g.length === 300));
    const expected = Array.from({ length: 300 }, (_, i) => i);
    for (const g of got) expect(g).toEqual(expected);
  });

  it('sends Buffers, nested binary included, as binary', async () => {
    const clients = await oneClientPerNode();
    const got = clients.map((c) => record<{ file: ArrayBuffer; parts: ArrayBuffer[] }>(c, 'bin'));
    nodes[0]!.io.emit('bin', { file: Buffer.from([1, 2, 3]), parts: [Buffer.from([4]), Buffer.from([5, 6])] });
    await waitFor('everyone got the binary', () => got.every((g) => g.length === 1));
    for (const g of got) {
      expect([...new Uint8Array(g[0]!.file)]).toEqual([1, 2, 3]);
      expect(g[0]!.parts.map((p) => [...new Uint8Array(p)])).toEqual([[4], [5, 6]]);
    }
  });
});

describe('exactly once', () => {
  it('drops a message written twice (same origin and sequence number), as after a retried write', async () => {
    const clients = await oneClientPerNode();
    const got = clients.map((c) => record<string>(c, 'dup'));
    const message = (seq: number, text: string) => ({
      v: 1,
      kind: 'message',
      origin: 'emitter-dup-test',
      seq,
      uid: 'emitter',
      nsp: '/',
      type: 3,
      data: { packet: { type: 2, data: ['dup', text], nsp: '/' }, opts: { rooms: [], except: [], flags: {} } },
      to: '',
      echo: false,
      recoverable: true,
      createdAt: new Date(),
    });
    await nodes[0]!.collection.insertMany([
      message(1, 'once'),
      message(1, 'once'),
      message(2, 'after'),
      message(1, 'once'),
    ]);
    await waitFor('the later message everywhere', () => got.every((g) => g.includes('after')));
    expect(got).toEqual([
      ['once', 'after'],
      ['once', 'after'],
      ['once', 'after'],
    ]);
    expect(nodes.every((n) => n.adapter().health().counters.duplicates >= 2)).toBe(true);
  });
});

describe('broadcasting with acknowledgements', () => {
  it('collects one acknowledgement from a client on another node', async () => {
    const clients = await oneClientPerNode();
    clients[2]!.on('ask', (n: number, ack: (v: number) => void) => ack(n * 2));
    const replies = await nodes[0]!.io.to(clients[2]!.id!).timeout(3000).emitWithAck('ask', 21);
    expect(replies).toEqual([42]);
  });

  it('collects acknowledgements from every client, binary included', async () => {
    const clients = await oneClientPerNode();
    clients.forEach((c, i) => c.on('ask', (ack: (v: unknown) => void) => ack({ i, bytes: Buffer.from([i]) })));
    const replies = (await nodes[1]!.io.timeout(3000).emitWithAck('ask')) as Array<{ i: number; bytes: Buffer }>;
    expect(replies.map((r) => r.i).sort()).toEqual([0, 1, 2]);
    for (const r of replies) expect([...r.bytes]).toEqual([r.i]);
  });

  it('resolves with no acknowledgement when no client matches', async () => {
    await oneClientPerNode();
    const replies = await nodes[0]!.io.to('nobody-here').timeout(3000).emitWithAck('ask');
    expect(replies).toEqual([]);
  });

  it('fails with a timeout when a client does not acknowledge', async () => {
    const clients = await oneClientPerNode();
    clients[0]!.on('ask', (ack: (v: string) => void) => ack('ok'));
    clients[1]!.on('ask', () => undefined);
    clients[2]!.on('ask', (ack: (v: string) => void) => ack('ok'));
    await expect(nodes[0]!.io.timeout(500).emitWithAck('ask')).rejects.toThrow(/timed out/);
  });
});

describe('socketsJoin, socketsLeave and disconnectSockets', () => {
  it('makes sockets of every node join and leave rooms', async () => {
    const clients = await oneClientPerNode();
    nodes[0]!.io.socketsJoin('green');
    await waitFor('everyone in green', async () => (await nodes[0]!.io.in('green').fetchSockets()).length === 3);
    nodes[1]!.io.in(clients[2]!.id!).socketsLeave('green');
    await waitFor('client 2 left green', async () => (await nodes[0]!.io.in('green').fetchSockets()).length === 2);
    const rooms = (await nodes[2]!.io.fetchSockets()).map((s) => [s.id, s.rooms.has('green')]);
    expect(new Map(rooms as Array<[string, boolean]>)).toEqual(
      new Map([
        [clients[0]!.id!, true],
        [clients[1]!.id!, true],
        [clients[2]!.id!, false],
      ]),
    );
  });

  it('disconnects all sockets, a packet sent just before arriving first', async () => {
    const clients = await oneClientPerNode();
    const order = clients.map(() => [] as string[]);
    clients.forEach((c, i) => {
      c.on('bye', () => order[i]!.push('bye'));
      c.on('disconnect', () => order[i]!.push('disconnect'));
    });
    nodes[0]!.io.emit('bye');
    nodes[0]!.io.disconnectSockets();
    await waitFor('everyone disconnected', () => order.every((o) => o.includes('disconnect')));
    expect(order).toEqual([
      ['bye', 'disconnect'],
      ['bye', 'disconnect'],
      ['bye', 'disconnect'],
    ]);
  });

  it('disconnects only the matching sockets, or one socket by id', async () => {
    const clients = await oneClientPerNode();
    await join(clients[1]!, 'red');
    nodes[0]!.io.in('red').disconnectSockets();
    await waitFor('client 1 disconnected', () => !clients[1]!.connected);
    nodes[2]!.io.in(clients[0]!.id!).disconnectSockets(true);
    await waitFor('client 0 disconnected', () => !clients[0]!.connected);
    expect(clients.map((c) => c.connected)).toEqual([false, false, true]);
  });
});

describe('fetchSockets', () => {
  it('fetches the sockets of every node', async () => {
    const clients = await oneClientPerNode();
    const sockets = await nodes[0]!.io.fetchSockets();
    expect(sockets.map((s) => s.id).sort()).toEqual(clients.map((c) => c.id).sort());
  });

  it('fetches one remote socket with its handshake, data and rooms', async () => {
    const clients = await oneClientPerNode();
    const remote = nodes[2]!.io.sockets.sockets.get(clients[2]!.id!)!;
    remote.data = { user: 'ada', tags: ['x'] };
    await join(clients[2]!, 'violet');
    const [socket] = await nodes[0]!.io.in(clients[2]!.id!).fetchSockets();
    expect(socket!.id).toBe(clients[2]!.id);
    expect(socket!.data).toEqual({ user: 'ada', tags: ['x'] });
    expect([...socket!.rooms].sort()).toEqual([clients[2]!.id!, 'violet'].sort());
    expect(socket!.handshake.address).toBeTruthy();
    expect(socket!.handshake.query).toMatchObject({ EIO: '4' });
  });

  it('fetches local sockets only with the local flag', async () => {
    const clients = await oneClientPerNode();
    const sockets = await nodes[1]!.io.local.fetchSockets();
    expect(sockets.map((s) => s.id)).toEqual([clients[1]!.id]);
  });
});

describe('serverSideEmit', () => {
  it('reaches every other node, not itself', async () => {
    const got = nodes.map(() => [] as string[]);
    const handlers = nodes.map((node, i) => {
      const handler = (v: string) => got[i]!.push(v);
      node.io.on('sse-plain', handler);
      return handler;
    });
    nodes[0]!.io.serverSideEmit('sse-plain', 'hi');
    await waitFor('nodes 1 and 2 got it', () => got[1]!.length === 1 && got[2]!.length === 1);
    nodes[0]!.io.serverSideEmit('sse-plain', 'again');
    await waitFor('nodes 1 and 2 got the second', () => got[1]!.length === 2 && got[2]!.length === 2);
    expect(got).toEqual([[], ['hi', 'again'], ['hi', 'again']]);
    nodes.forEach((node, i) => node.io.off('sse-plain', handlers[i]!));
  });

  it('collects one answer per other node', async () => {
    nodes.forEach((node, i) => node.io.on('sse-ask', (n: number, ack: (v: number) => void) => ack(n + i)));
    const answers = await nodes[0]!.io.serverSideEmitWithAck('sse-ask', 10);
    expect((answers as number[]).sort()).toEqual([11, 12]);
  });

  it('fails with a timeout when a node does not answer', async () => {
    nodes[1]!.io.on('sse-silent', (ack: (v: string) => void) => ack('one'));
    nodes[2]!.io.on('sse-silent', () => undefined);
    await expect(nodes[0]!.io.serverSideEmitWithAck('sse-silent')).rejects.toThrow(/timeout/);
  });
});
