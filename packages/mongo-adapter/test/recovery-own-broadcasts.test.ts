import { afterEach, describe, expect, it } from 'vitest';
import type { Socket as ClientSocket } from 'socket.io-client';
import { parseOffset } from '../src/index.js';
import {
  closeClients,
  connect,
  onStandIn,
  sleep,
  startCluster,
  startMongo,
  waitFor,
  type Mongo,
  type Node,
  type NodeOptions,
} from './support.js';

/**
 * A node serves its own broadcasts to its own sockets at once, before their writes land; offsets name a place
 * in that node's delivery order. These tests restore, on every kind of node, clients that received a mix of
 * their node's own broadcasts and other nodes' messages, cut at every kind of point, and clients whose node
 * had not yet written its last broadcasts when they left. A restore gives exactly what was missed, once, in
 * each sender's order; or a fresh session, never a partial one.
 */

const RECOVERY = { connectionStateRecovery: { maxDisconnectionDuration: 60_000 } };

let mongo: Mongo | undefined;
let nodes: Node[] = [];
const recovered = new Map<string, boolean>();

afterEach(async () => {
  closeClients();
  await Promise.all(nodes.map((node) => node.close()));
  nodes = [];
  await mongo?.stop();
  mongo = undefined;
});

async function cluster(count: number, options: NodeOptions = {}): Promise<Node[]> {
  mongo = await startMongo();
  nodes = await startCluster(mongo, count, { ...options, server: RECOVERY });
  for (const node of nodes) {
    // An asynchronous handshake middleware, like the gateway's token check.
    node.io.use((_socket, next) => void setTimeout(next, 5));
    node.io.on('connection', (socket) => {
      recovered.set(socket.id, socket.recovered);
      socket.on('join', (room: string, done: () => void) => {
        void socket.join(room);
        done();
      });
    });
  }
  return nodes;
}

interface ClientState {
  _pid?: string;
  _lastOffset?: string;
}

interface Packet {
  name: string;
  offset: string | undefined;
}

function listen(socket: ClientSocket, into: Packet[]): void {
  socket.on('n', (name: string, offset?: string) => into.push({ name, offset }));
}

async function joined(node: Node, beforeConnect?: (socket: ClientSocket) => void): Promise<ClientSocket> {
  const socket = await connect(node, '/', {}, beforeConnect);
  await socket.timeout(5000).emitWithAck('join', 'r');
  return socket;
}

/** Drops the transport (as a network failure does) and waits until its node stored the session. */
async function drop(socket: ClientSocket, node: Node): Promise<{ pid: string; id: string }> {
  const state = socket as unknown as ClientState;
  const id = socket.id!;
  const pid = state._pid!;
  socket.io.engine.close();
  await waitFor('the node saw the disconnect', () => !node.io.sockets.sockets.has(id));
  await waitFor(
    'the session is stored',
    async () => (await node.collection.countDocuments({ kind: 'session', pid })) === 1,
  );
  return { pid, id };
}

/** Reconnects with a session and an offset, as socket.io-client does after a lost connection. */
async function reconnect(node: Node, pid: string, offset: string, into: Packet[]): Promise<ClientSocket> {
  return connect(node, '/', {}, (socket) => {
    Object.assign(socket as unknown as ClientState, { _pid: pid, _lastOffset: offset });
    listen(socket, into);
  });
}

/** Problems with `got` as the continuation of `had` when `all` was sent (each sender's names end in its number). */
function continuationProblems(had: string[], got: string[], all: string[]): string[] {
  const problems: string[] = [];
  const seen = new Set(had);
  for (const name of got) {
    if (seen.has(name)) problems.push(`${name} twice`);
    seen.add(name);
  }
  for (const name of all) if (!seen.has(name)) problems.push(`${name} missing`);
  const senders = new Set(all.map((name) => name.replace(/\d+$/, '')));
  for (const sender of senders) {
    const numbers = [...had, ...got]
      .filter((name) => name.replace(/\d+$/, '') === sender)
      .map((n) => Number(n.replace(/^\D+/, '')));
    for (let i = 1; i < numbers.length; i++)
      if (numbers[i]! <= numbers[i - 1]!) problems.push(`${sender}${numbers[i]} after ${sender}${numbers[i - 1]}`);
  }
  return problems;
}

describe('restoring clients of a node that serves its own broadcasts first', { timeout: 60_000 }, () => {
  it('restores a client cut at any point of a mix of own and remote broadcasts, on any node', async () => {
    const [a, b, c] = (await cluster(3)) as [Node, Node, Node];
    // Six clients on node a receive the same mix: a's own broadcasts, b's and c's.
    const received: Packet[][] = [];
    const clients: ClientSocket[] = [];
    for (let i = 0; i < 6; i++) {
      const into: Packet[] = [];
      clients.push(await joined(a, (socket) => listen(socket, into)));
      received.push(into);
    }
    const all: string[] = [];
    for (let i = 0; i < 24; i++) {
      const senders: Array<[string, Node]> = [['a', a]];
      if (i % 2 === 0) senders.push(['b', b]);
      if (i % 3 === 0) senders.push(['c', c]);
      for (const [name, node] of senders) {
        node.io.to('r').emit('n', `${name}${i}`);
        all.push(`${name}${i}`);
      }
      if (i % 4 === 0) await sleep(3);
    }
    await waitFor('the mix reached every client', () => received.every((into) => into.length === all.length));
    const order = received[0]!.map((packet) => packet.name);
    for (const into of received) expect(into.map((packet) => packet.name)).toEqual(order);

    // Cut points: where each client's last packet was (the packets after it were lost in flight).
    const own = (i: number) => order[i]!.startsWith('a');
    const at = (predicate: (i: number) => boolean) => {
      const index = order.findIndex((_, i) => i > 0 && i < order.length - 1 && predicate(i));
      expect(index, 'such a cut point exists').toBeGreaterThan(0);
      return index;
    };
    const cuts: Array<{ index: number; to: Node; what: string }> = [
      { index: 0, to: b, what: 'after the first packet' },
      { index: at((i) => own(i) && !own(i + 1)), to: b, what: "after an own broadcast, before another node's" },
      { index: at((i) => !own(i) && own(i + 1)), to: c, what: "after another node's, before an own broadcast" },
      { index: at((i) => own(i) && own(i + 1)), to: a, what: 'between two own broadcasts, on the same node' },
      { index: at((i) => !own(i) && !own(i + 1)), to: a, what: "between two other nodes' messages, on the same node" },
      { index: order.length - 1, to: c, what: 'after the last packet (nothing missed)' },
    ];
    for (const [k, cut] of cuts.entries()) {
      const offset = received[k]![cut.index]!.offset!;
      expect(parseOffset(offset)?.clean, cut.what).toBe(true);
      const { pid, id } = await drop(clients[k]!, a);
      const replayed: Packet[] = [];
      const back = await reconnect(cut.to, pid, offset, replayed);
      expect(back.id, cut.what).toBe(id);
      expect(recovered.get(id), cut.what).toBe(true);
      const had = order.slice(0, cut.index + 1);
      await waitFor(`the missed packets (${cut.what})`, () => replayed.length >= all.length - had.length);
      // Live from here: one more from each node.
      for (const [name, node] of [
        ['a', a],
        ['b', b],
        ['c', c],
      ] as const)
        node.io.to('r').emit('n', `${name}${100 + k}`);
      const live = [`a${100 + k}`, `b${100 + k}`, `c${100 + k}`];
      await waitFor(`the live ones (${cut.what})`, () => live.every((name) => replayed.some((p) => p.name === name)));
      const got = replayed.map((packet) => packet.name).filter((name) => !live.includes(name));
      expect(continuationProblems(had, got, all), cut.what).toEqual([]);
      for (const packet of replayed) expect(typeof packet.offset, cut.what).toBe('string');
    }
  });

  it('restores again, on a third node, from an offset a restore replayed', async () => {
    const [a, b, c] = (await cluster(3)) as [Node, Node, Node];
    const first: Packet[] = [];
    const client = await joined(a, (socket) => listen(socket, first));
    const all: string[] = [];
    const send = (from: string, node: Node, n: number) => {
      node.io.to('r').emit('n', `${from}${n}`);
      all.push(`${from}${n}`);
    };
    send('a', a, 0);
    send('c', c, 0);
    await waitFor('the first two', () => first.length === 2);
    const { pid, id } = await drop(client, a);
    // Missed while away: from every node, the client's own node included.
    for (let n = 1; n <= 5; n++) {
      send('a', a, n);
      send('b', b, n);
      send('c', c, n);
    }
    await sleep(50);
    const second: Packet[] = [];
    const onB = await reconnect(b, pid, first[1]!.offset!, second);
    expect(recovered.get(id)).toBe(true);
    await waitFor('the 15 missed ones', () => second.length === 15);
    expect(
      continuationProblems(
        first.map((p) => p.name),
        second.map((p) => p.name),
        all,
      ),
    ).toEqual([]);
    // Leaves again at once: its offset is one node b minted for a replayed packet.
    const last = second[second.length - 1]!.offset!;
    expect(parseOffset(last)?.node).toBe(b.adapter().health().node);
    const { pid: pid2 } = await drop(onB, b);
    send('a', a, 6);
    send('b', b, 6);
    const third: Packet[] = [];
    await reconnect(c, pid2, last, third);
    expect(recovered.get(id)).toBe(true);
    await waitFor('the two sent meanwhile', () => third.length === 2);
    const had = [...first, ...second].map((p) => p.name);
    expect(
      continuationProblems(
        had,
        third.map((p) => p.name),
        all,
      ),
    ).toEqual([]);
  });

  (onStandIn ? it : it.skip)(
    'waits for the writes of the node the client left when they have not landed yet, then restores exactly',
    async () => {
      const [a, b] = (await cluster(2)) as [Node, Node];
      const had: Packet[] = [];
      const client = await joined(a, (socket) => listen(socket, had));
      const seenOnB: Packet[] = [];
      await joined(b, (socket) => listen(socket, seenOnB));
      a.io.to('r').emit('n', 'a0');
      await waitFor('a0 everywhere', () => had.length === 1 && seenOnB.length === 1);
      // Node a cannot write: its broadcasts wait in its outbox (retried), its clients get them at once.
      mongo!.standIn!.faults.failCommands({
        commands: ['insert'],
        times: Number.POSITIVE_INFINITY,
        code: 8000,
        errorLabels: [],
        appName: 'node-0',
      });
      for (let n = 1; n <= 5; n++) a.io.to('r').emit('n', `a${n}`);
      await waitFor('the client got them from its node', () => had.length === 6);
      expect(seenOnB.map((p) => p.name)).toEqual(['a0']);
      // a4 and a5 were lost in flight: the client's last offset is a3's.
      const { pid, id } = await drop(client, a);
      const replayed: Packet[] = [];
      const back = reconnect(b, pid, had[3]!.offset!, replayed);
      // The restore has taken the session; it must wait for a's writes (a1..a3 must not come again; a4, a5 must come).
      await waitFor(
        'the restore started',
        async () => (await a.collection.countDocuments({ kind: 'session', pid })) === 0,
      );
      mongo!.standIn!.faults.clearFailCommands();
      const socket = await back;
      expect(socket.id).toBe(id);
      expect(recovered.get(id)).toBe(true);
      await waitFor('a4 and a5', () => replayed.length >= 2);
      b.io.to('r').emit('n', 'b0');
      a.io.to('r').emit('n', 'a6');
      await waitFor(
        'the live ones',
        () => replayed.some((p) => p.name === 'b0') && replayed.some((p) => p.name === 'a6'),
      );
      expect(replayed.map((p) => p.name).filter((name) => name.startsWith('a'))).toEqual(['a4', 'a5', 'a6']);
      expect(replayed.filter((p) => p.name === 'b0')).toHaveLength(1);
      await waitFor('node b got a1..a6 in order', () => seenOnB.length === 8);
      expect(seenOnB.map((p) => p.name).filter((name) => name.startsWith('a'))).toEqual([
        'a0',
        'a1',
        'a2',
        'a3',
        'a4',
        'a5',
        'a6',
      ]);
    },
  );

  (onStandIn ? it : it.skip)(
    'gives a fresh session, not a partial restore, when those writes do not land in time',
    async () => {
      const [a, b] = (await cluster(2, { adapter: { restoreTimeoutMs: 500 } })) as [Node, Node];
      const reasons: string[] = [];
      b.factory.events.on('restore', (event) => reasons.push(event.reason));
      const had: Packet[] = [];
      const client = await joined(a, (socket) => listen(socket, had));
      a.io.to('r').emit('n', 'a0');
      await waitFor('a0', () => had.length === 1);
      mongo!.standIn!.faults.failCommands({
        commands: ['insert'],
        times: Number.POSITIVE_INFINITY,
        code: 8000,
        errorLabels: [],
        appName: 'node-0',
      });
      for (let n = 1; n <= 3; n++) a.io.to('r').emit('n', `a${n}`);
      await waitFor('the client got them from its node', () => had.length === 4);
      const { pid, id } = await drop(client, a);
      const fresh: Packet[] = [];
      const back = await reconnect(b, pid, had[3]!.offset!, fresh);
      expect(back.id).not.toBe(id);
      expect(recovered.get(back.id!)).toBe(false);
      expect(reasons).toEqual(['unwritten']);
      mongo!.standIn!.faults.clearFailCommands();
    },
  );
});
