import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Socket as ClientSocket } from 'socket.io-client';
import type { Server } from 'socket.io';
import { closeClients, connect, startCluster, startMongo, waitFor, type Mongo, type Node } from './support.js';

let mongo: Mongo;
let nodes: Node[] = [];
const recovered = new Map<string, boolean>();

function serve(io: Server): void {
  io.on('connection', (socket) => {
    recovered.set(socket.id, socket.recovered);
    socket.on('join', (room: string, done: () => void) => {
      void socket.join(room);
      done();
    });
  });
}

beforeAll(async () => {
  mongo = await startMongo();
  nodes = await startCluster(mongo, 3, { server: { connectionStateRecovery: { maxDisconnectionDuration: 60_000 } } });
  for (const node of nodes) serve(node.io);
  if (process.env.DEBUG_RESTORE)
    for (const node of nodes) node.factory.events.on('restore', (e) => console.log('restore', e));
});
afterEach(() => closeClients());
afterAll(async () => {
  await Promise.all(nodes.map((n) => n.close()));
  await mongo.stop();
});

interface ClientState {
  _pid?: string;
  _lastOffset?: string;
}

/** Every event's arguments, the offset included (socket.io appends it as the last argument). */
function recordArgs(socket: ClientSocket, event: string): unknown[][] {
  const received: unknown[][] = [];
  socket.on(event, (...args: unknown[]) => received.push(args));
  return received;
}

async function join(client: ClientSocket, room: string): Promise<void> {
  await client.timeout(2000).emitWithAck('join', room);
}

/** Drops the transport (a recoverable reason) and waits until the node stored the session. */
async function dropAndPersist(client: ClientSocket, node: Node): Promise<{ pid: string; offset: string; id: string }> {
  const state = client as unknown as ClientState;
  const id = client.id!;
  const pid = state._pid!;
  client.io.engine.close();
  await waitFor('the node saw the disconnect', () => !node.io.sockets.sockets.has(id));
  await waitFor(
    'the session is stored',
    async () => (await node.collection.countDocuments({ kind: 'session', pid })) === 1,
  );
  return { pid, offset: state._lastOffset!, id };
}

async function emitInOrder(observer: unknown[][], steps: Array<() => void>): Promise<void> {
  for (const step of steps) {
    const before = observer.length;
    step();
    await waitFor('the observer saw it', () => observer.length === before + 1);
  }
}

describe('connection state recovery across nodes', () => {
  it('restores a session on another node: rooms, data, missed packets in order with offsets', async () => {
    const [a, b, c] = nodes as [Node, Node, Node];
    const client = await connect(a);
    await join(client, 'r');
    a.io.sockets.sockets.get(client.id!)!.data = { user: 'grace' };
    const observer = await connect(b);
    await join(observer, 'r');
    const seen = recordArgs(observer, 'm');
    const got = recordArgs(client, 'm');
    a.io.to('r').emit('m', 'before');
    await waitFor('client got the first', () => got.length === 1 && seen.length === 1);
    const { pid, offset, id } = await dropAndPersist(client, a);
    expect(typeof offset).toBe('string');

    await emitInOrder(seen, [() => b.io.to('r').emit('m', 'm1'), () => c.io.emit('m', 'm2')]);
    b.io.to('other').emit('m', 'not-for-us');
    a.io.except('r').emit('m', 'not-for-us-either');
    await emitInOrder(seen, [() => a.io.to('r').emit('m', 'm3'), () => c.io.to('r').emit('m', 'm4')]);

    let missed: unknown[][] = [];
    const back = await connect(b, '/', { auth: { pid, offset } }, (s) => (missed = recordArgs(s, 'm')));
    await waitFor('missed packets arrived', () => missed.length >= 4);
    expect(back.id).toBe(id);
    expect(recovered.get(id)).toBe(true);
    expect(missed.map((args) => args[0])).toEqual(['m1', 'm2', 'm3', 'm4']);
    for (const args of missed) expect(typeof args[1]).toBe('string');
    expect(new Set(missed.map((args) => args[1])).size).toBe(4);
    const restored = b.io.sockets.sockets.get(id)!;
    expect(restored.rooms.has('r')).toBe(true);
    expect(restored.data).toEqual({ user: 'grace' });

    b.io.to('r').emit('m', 'live');
    await waitFor('live packet after the restore', () => missed.some((args) => args[0] === 'live'));
    expect(missed.map((args) => args[0])).toEqual(['m1', 'm2', 'm3', 'm4', 'live']);
  });

  it('restores a session only once', async () => {
    const [a, b, c] = nodes as [Node, Node, Node];
    const client = await connect(a);
    a.io.emit('m', 'x');
    await waitFor('an offset arrived', () => (client as unknown as ClientState)._lastOffset !== undefined);
    const { pid, offset, id } = await dropAndPersist(client, a);
    const first = await connect(b, '/', { auth: { pid, offset } });
    expect(first.id).toBe(id);
    first.disconnect();
    await waitFor('first gone', () => !b.io.sockets.sockets.has(id));
    const second = await connect(c, '/', { auth: { pid, offset } });
    expect(second.id).not.toBe(id);
    expect(recovered.get(second.id!)).toBe(false);
  });

  it('does not restore an unknown session or an unknown offset', async () => {
    const [a, b] = nodes as [Node, Node, Node];
    const stranger = await connect(b, '/', { auth: { pid: 'no-such-session', offset: 'whatever' } });
    expect(recovered.get(stranger.id!)).toBe(false);

    const client = await connect(a);
    a.io.emit('m', 'x');
    await waitFor('an offset arrived', () => (client as unknown as ClientState)._lastOffset !== undefined);
    const { pid, id } = await dropAndPersist(client, a);
    const garbage = await connect(b, '/', { auth: { pid, offset: 'not-an-offset' } });
    expect(garbage.id).not.toBe(id);
    expect(recovered.get(garbage.id!)).toBe(false);
  });

  it('serves private packets without waiting for MongoDB and restores them from the session', async () => {
    const [a, b] = nodes as [Node, Node, Node];
    const client = await connect(a);
    a.io.emit('m', 'anchor');
    const got = recordArgs(client, 'p');
    await waitFor('anchor offset', () => (client as unknown as ClientState)._lastOffset !== undefined);
    const socket = a.io.sockets.sockets.get(client.id!)!;
    for (let i = 1; i <= 3; i++) socket.emit('p', i);
    await waitFor('three private packets', () => got.length === 3);
    // Written too (a socket of another node may be in a room named after this socket id), marked as already
    // served to this socket: no other node delivers or replays them to it.
    await waitFor(
      'the three written, marked private to the socket',
      async () =>
        (await a.collection.countDocuments({
          kind: 'message',
          type: 3,
          privateTo: client.id!,
          'data.packet.data.0': 'p',
        })) === 3,
    );

    const firstOffset = got[0]![1] as string;
    const { pid, id } = await dropAndPersist(client, a);
    let missed: unknown[][] = [];
    const back = await connect(b, '/', { auth: { pid, offset: firstOffset } }, (s) => (missed = recordArgs(s, 'p')));
    await waitFor('the two later private packets', () => missed.length === 2);
    expect(back.id).toBe(id);
    expect(missed.map((args) => args[0])).toEqual([2, 3]);
    expect(missed.map((args) => args[1])).toEqual([got[1]![1], got[2]![1]]);
  });

  it('gives every node the same server-ordered offsets (official adapter failure 8)', async () => {
    const [a, b] = nodes as [Node, Node, Node];
    const onA = await connect(a);
    const onB = await connect(b);
    const gotA = recordArgs(onA, 'o');
    const gotB = recordArgs(onB, 'o');
    for (let i = 0; i < 40; i++) {
      a.io.emit('o', `a${i}`);
      b.io.emit('o', `b${i}`);
    }
    await waitFor('80 packets on both', () => gotA.length === 80 && gotB.length === 80);
    const order = (got: unknown[][]) => got.map((args) => args[0]);
    const tokens = (got: unknown[][]) => got.map((args) => String(args[1]).split('~')[0]);
    expect(order(gotA)).toEqual(order(gotB));
    expect(tokens(gotA)).toEqual(tokens(gotB));
    expect(new Set(tokens(gotA)).size).toBe(80);
  });
});

describe('session expiry', () => {
  let short: Node[] = [];
  afterAll(async () => {
    await Promise.all(short.map((n) => n.close()));
  });

  it('does not restore a session older than maxDisconnectionDuration', async () => {
    short = await startCluster(mongo, 2, {
      collectionName: 'short-sessions',
      server: { connectionStateRecovery: { maxDisconnectionDuration: 300 } },
    });
    for (const node of short) serve(node.io);
    const [a, b] = short as [Node, Node];
    const client = await connect(a);
    a.io.emit('m', 'x');
    await waitFor('an offset arrived', () => (client as unknown as ClientState)._lastOffset !== undefined);
    const { pid, offset, id } = await dropAndPersist(client, a);
    const stored = await a.collection.findOne({ kind: 'session', pid });
    await waitFor('the session expired', () => Date.now() > (stored!.expiresAt as Date).getTime() + 50);
    const back = await connect(b, '/', { auth: { pid, offset } });
    expect(back.id).not.toBe(id);
    expect(recovered.get(back.id!)).toBe(false);
  });
});
