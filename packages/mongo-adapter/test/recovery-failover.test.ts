import { afterEach, describe, expect, it } from 'vitest';
import type { Socket as ClientSocket } from 'socket.io-client';
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
} from './support.js';

/**
 * Connection state recovery while messages flow: a client receiving a numbered stream loses its
 * connection (or its node shuts down) mid-stream and reconnects to another node. Whenever socket.io
 * reports the session as recovered, the client must have every number exactly once and in order;
 * packets lost in flight, broadcast while it was away, or broadcast while the new node was restoring
 * it included.
 */

const RECOVERY = { connectionStateRecovery: { maxDisconnectionDuration: 60_000 } };

let mongo: Mongo | undefined;
let nodes: Node[] = [];

afterEach(async () => {
  closeClients();
  await Promise.all(nodes.map((node) => node.close()));
  nodes = [];
  await mongo?.stop();
  mongo = undefined;
});

async function cluster(count: number): Promise<Node[]> {
  mongo = await startMongo();
  nodes = await startCluster(mongo, count, { server: RECOVERY });
  for (const node of nodes) {
    if (process.env.DEBUG_RESTORE)
      node.factory.events.on('restore', (event) => console.log('restore', JSON.stringify(event)));
    // An asynchronous handshake middleware, like the gateway's token check: the restored socket joins its
    // rooms some time after the session was restored.
    node.io.use((_socket, next) => void setTimeout(next, 5));
    node.io.on('connection', (socket) => {
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

/** One user's view of the stream across reconnections: a new segment starts whenever a session is not recovered. */
class Receiver {
  readonly segments: number[][] = [[]];
  recoveries = 0;
  fresh = 0;
  socket!: ClientSocket;

  get received(): number {
    return this.segments.reduce((total, segment) => total + segment.length, 0);
  }

  get last(): number | undefined {
    const segment = this.segments[this.segments.length - 1]!;
    return segment[segment.length - 1];
  }

  async connectTo(node: Node): Promise<void> {
    this.socket = await connect(node, '/', {}, (socket) => this.listen(socket));
    await this.socket.timeout(5000).emitWithAck('join', 'r');
  }

  /** Reconnects with the previous session's pid and last offset, as socket.io-client does by itself. */
  async reconnectTo(node: Node, pid: string, offset: string | undefined): Promise<boolean> {
    this.socket = await connect(node, '/', {}, (socket) => {
      // What socket.io-client keeps across its own reconnections: it sends them in the CONNECT packet.
      Object.assign(socket as unknown as ClientState, { _pid: pid, _lastOffset: offset });
      this.listen(socket);
    });
    if (this.socket.recovered) {
      this.recoveries++;
    } else {
      this.fresh++;
      this.segments.push([]);
      await this.socket.timeout(5000).emitWithAck('join', 'r');
    }
    return this.socket.recovered;
  }

  /** Drops the connection the way a network failure does: whatever was in flight is lost. */
  drop(): { pid: string; offset: string | undefined; id: string } {
    const state = this.socket as unknown as ClientState;
    const found = { pid: state._pid!, offset: state._lastOffset, id: this.socket.id! };
    this.socket.io.engine.close();
    return found;
  }

  private listen(socket: ClientSocket): void {
    // One socket at a time receives: a dropped one gets nothing more.
    socket.on('n', (n: number) => this.segments[this.segments.length - 1]!.push(n));
  }
}

/** What is wrong with a segment that should be a run of consecutive numbers ('' when nothing). */
function defects(segment: number[]): string {
  const problems: string[] = [];
  for (let i = 1; i < segment.length; i++) {
    const previous = segment[i - 1]!;
    const current = segment[i]!;
    if (current === previous + 1) continue;
    if (current > previous + 1) problems.push(`missing ${previous + 1}..${current - 1}`);
    else problems.push(`${current} after ${previous}`);
  }
  return problems.join(', ');
}

/** Each segment is a run of consecutive numbers; a recovered session never starts a new one. */
function expectContiguous(receiver: Receiver, last: number): void {
  const report = receiver.segments.map((segment, index) => {
    const found = defects(segment);
    return found === '' ? '' : `segment ${index}: ${found}`;
  });
  expect(report.filter((line) => line !== '').join('; ')).toBe('');
  expect(receiver.last).toBe(last);
}

/** Emits 1, 2, 3... to room `r` from `sender()` until stopped; resolves with the last number. */
function numberedStream(sender: () => Node): { stop(): Promise<number>; sent(): number } {
  let next = 1;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      sender().io.to('r').emit('n', next++);
      await sleep(next % 4 === 0 ? 2 : 0);
    }
    return next - 1;
  })();
  return {
    sent: () => next - 1,
    async stop() {
      stopped = true;
      return loop;
    },
  };
}

describe('recovery while messages flow', () => {
  it('restores the sessions of a client whose connection keeps dropping mid-stream, without holes', async () => {
    const [a, b, c] = await cluster(3);
    const receiver = new Receiver();
    await receiver.connectTo(a!);
    // One sender, so the stream has one order; the client visits it (local echo path) and the others.
    const stream = numberedStream(() => a!);
    const order = [b!, c!, a!, c!, b!, a!, b!, c!];
    for (const target of order) {
      const before = receiver.received;
      await waitFor('numbers flowing to the client', () => receiver.received >= before + 20);
      const from = nodes.find((node) => node.io.sockets.sockets.has(receiver.socket.id!))!;
      const { pid, offset, id } = receiver.drop();
      // Wait until the old node stored the session (the normal case: it must then be recovered).
      await waitFor('the old node saw the disconnect', () => !from.io.sockets.sockets.has(id));
      await waitFor(
        'the session is stored',
        async () => (await from.collection.countDocuments({ kind: 'session', pid })) === 1,
      );
      expect(await receiver.reconnectTo(target, pid, offset)).toBe(true);
      expect(receiver.socket.id).toBe(id);
    }
    const settled = receiver.received;
    await waitFor('a few more after the last move', () => receiver.received >= settled + 20);
    const last = await stream.stop();
    await waitFor('the end of the stream', () => receiver.last === last);
    expect(receiver.recoveries).toBe(order.length);
    expectContiguous(receiver, last);
  });

  it('never reports a restore with holes when the client comes back at once', async () => {
    const [a, b, c] = await cluster(3);
    const receiver = new Receiver();
    await receiver.connectTo(b!);
    const stream = numberedStream(() => c!);
    const order = [a!, b!, a!, c!, b!, c!, a!, b!];
    for (const target of order) {
      const before = receiver.received;
      await waitFor('numbers flowing to the client', () => receiver.received >= before + 20);
      const { pid, offset } = receiver.drop();
      // No waiting: the session may still be on its way to MongoDB. Recovered or not, never with holes.
      await receiver.reconnectTo(target, pid, offset);
    }
    await sleep(50);
    const last = await stream.stop();
    await waitFor('the end of the stream', () => receiver.last === last);
    expectContiguous(receiver, last);
    expect(receiver.recoveries + receiver.fresh).toBe(order.length);
  });

  it('restores on another node the sessions of a node shutting down mid-stream', async () => {
    const [a, b, c] = await cluster(3);
    const receivers = [new Receiver(), new Receiver(), new Receiver()];
    for (const receiver of receivers) await receiver.connectTo(a!);
    const stream = numberedStream(() => c!);
    await waitFor('numbers flowing', () => receivers.every((receiver) => receiver.received >= 30));
    const states = receivers.map((receiver) => receiver.socket as unknown as ClientState);
    const closing = a!.close(); // io.close(): every socket is closed with "server shutting down"
    await waitFor('the clients saw the shutdown', () => receivers.every((receiver) => !receiver.socket.connected));
    await closing;
    for (const [index, receiver] of receivers.entries()) {
      const state = states[index]!;
      expect(await receiver.reconnectTo(index % 2 === 0 ? b! : c!, state._pid!, state._lastOffset)).toBe(true);
    }
    await sleep(100);
    const last = await stream.stop();
    await waitFor('the end of the stream', () => receivers.every((receiver) => receiver.last === last));
    for (const receiver of receivers) expectContiguous(receiver, last);
  });

  it('replays, on another node, what a closing node had not yet delivered to its own clients', async () => {
    const [a, b] = await cluster(2);
    const receivers = [new Receiver(), new Receiver()];
    for (const receiver of receivers) await receiver.connectTo(a!);
    for (let n = 1; n <= 20; n++) a!.io.to('r').emit('n', n);
    await waitFor('the first ones arrived', () => receivers.every((receiver) => receiver.received === 20));
    const states = receivers.map((receiver) => receiver.socket as unknown as ClientState);
    // Still waiting for their own copy (their offset) when the sockets are closed: only the stream has them.
    for (let n = 21; n <= 60; n++) a!.io.to('r').emit('n', n);
    await a!.close();
    for (const [index, receiver] of receivers.entries()) {
      const state = states[index]!;
      expect(await receiver.reconnectTo(b!, state._pid!, state._lastOffset)).toBe(true);
    }
    await waitFor('the rest of the stream', () => receivers.every((receiver) => receiver.last === 60));
    for (const receiver of receivers) expectContiguous(receiver, 60);
  });

  (onStandIn ? it : it.skip)(
    'replays nothing twice when the new node lags behind the one the client left',
    async () => {
      const [a, b, c] = await cluster(3);
      const receiver = new Receiver();
      await receiver.connectTo(a!);
      const stream = numberedStream(() => c!);
      // node-1 (b) reads the change stream late: its live feed is behind the client's last offset.
      mongo!.standIn!.faults.failCommands({
        commands: ['getMore'],
        times: Number.POSITIVE_INFINITY,
        blockTimeMS: 150,
        appName: 'node-1',
      });
      for (const target of [b!, a!, b!]) {
        const before = receiver.received;
        await waitFor('numbers flowing to the client', () => receiver.received >= before + 30);
        const from = nodes.find((node) => node.io.sockets.sockets.has(receiver.socket.id!))!;
        const { pid, offset, id } = receiver.drop();
        await waitFor('the old node saw the disconnect', () => !from.io.sockets.sockets.has(id));
        await waitFor(
          'the session is stored',
          async () => (await from.collection.countDocuments({ kind: 'session', pid })) === 1,
        );
        expect(await receiver.reconnectTo(target, pid, offset)).toBe(true);
      }
      const settled = receiver.received;
      await waitFor('more after the last move', () => receiver.received >= settled + 20);
      mongo!.standIn!.faults.clearFailCommands();
      const last = await stream.stop();
      await waitFor('the end of the stream', () => receiver.last === last);
      expectContiguous(receiver, last);
    },
  );
});
