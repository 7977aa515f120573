import { MongoClient } from 'mongodb';
import { afterEach, describe, expect, it } from 'vitest';
import { createEmitter, type DeliveredPacket } from '../src/index.js';
import type { BroadcastOptions } from 'socket.io-adapter';
import {
  closeClients,
  connect,
  record,
  startCluster,
  startMongo,
  waitFor,
  type Mongo,
  type Node,
  type NodeOptions,
} from './support.js';

/** `MongoAdapter.onLocalDelivery`: what the gateway's SSE streams tap. */

let mongo: Mongo | undefined;
let nodes: Node[] = [];
let emitterClient: MongoClient | undefined;

afterEach(async () => {
  closeClients();
  await emitterClient?.close();
  emitterClient = undefined;
  await Promise.all(nodes.map((n) => n.close()));
  nodes = [];
  await mongo?.stop();
  mongo = undefined;
});

interface Seen {
  event: unknown;
  args: unknown[];
  rooms: string[];
  except: string[];
}

function tap(node: Node): { seen: Seen[]; stop: () => void } {
  const seen: Seen[] = [];
  const stop = node.adapter().onLocalDelivery((packet: DeliveredPacket, opts: BroadcastOptions) => {
    const [event, ...args] = packet.data ?? [];
    seen.push({ event, args, rooms: [...opts.rooms].sort(), except: [...(opts.except ?? [])].sort() });
  });
  return { seen, stop };
}

async function cluster(options: NodeOptions = {}): Promise<[Node, Node]> {
  mongo = await startMongo();
  nodes = await startCluster(mongo, 2, options);
  return nodes as [Node, Node];
}

describe.each([
  ['recovery off', {}],
  ['recovery on', { server: { connectionStateRecovery: {} } }],
] as const)('onLocalDelivery (%s)', (_name, options) => {
  it('reports every broadcast this node delivers, from any origin, in delivery order, matched or not', async () => {
    const [a, b] = await cluster(options);
    const { seen } = tap(b);
    const client = await connect(b);
    const got = record<number>(client, 'n');
    emitterClient = new MongoClient(mongo!.uri);
    const emitter = createEmitter(emitterClient.db(mongo!.dbName).collection('socket.io'));

    a.io.to('nobody-here').emit('n', 0); // no local socket matches: still reported
    a.io.emit('n', 1);
    b.io.emit('n', 2);
    await emitter.emit('n', 3);
    await waitFor('the client got 1, 2 and 3', () => got.length === 3);
    await waitFor('four deliveries reported', () => seen.length === 4);
    // Per-sender order, and the client saw the same order as the hook.
    const order = seen.map((s) => s.args[0]);
    expect(order.filter((n) => n !== 0)).toEqual(got);
    expect(order.indexOf(0)).toBeLessThan(order.indexOf(1));
    expect(seen.find((s) => s.args[0] === 0)!.rooms).toEqual(['nobody-here']);
    // The recovery offset socket.io appends for clients is not part of the reported arguments.
    for (const s of seen) expect(s.args).toHaveLength(1);
  });

  it('stops after unsubscribing, and a throwing listener never breaks delivery', async () => {
    const [a, b] = await cluster(options);
    const throwing = b.adapter().onLocalDelivery(() => {
      throw new Error('listener bug');
    });
    const { seen, stop } = tap(b);
    const client = await connect(b);
    const got = record<number>(client, 'n');
    a.io.emit('n', 1);
    b.io.emit('n', 2);
    await waitFor('both delivered', () => got.length === 2 && seen.length === 2);
    stop();
    stop(); // idempotent
    throwing();
    a.io.emit('n', 3);
    await waitFor('the third delivered', () => got.length === 3);
    // Two senders: their relative order may differ, but the hook saw what the client saw, in the same order.
    expect([...got].sort()).toEqual([1, 2, 3]);
    expect(got[2]).toBe(3);
    expect(seen.map((s) => s.args[0])).toEqual(got.slice(0, 2));
  });
});

describe('onLocalDelivery and session restores', () => {
  it('does not report the packets a restore replays to one socket', async () => {
    const [a, b] = await cluster({ server: { connectionStateRecovery: { maxDisconnectionDuration: 60_000 } } });
    const client = await connect(a);
    a.io.emit('m', 'anchor');
    const state = client as unknown as { _pid?: string; _lastOffset?: string };
    await waitFor('an offset arrived', () => state._lastOffset !== undefined);
    const { pid, _lastOffset: offset } = { pid: state._pid!, _lastOffset: state._lastOffset! };
    const id = client.id!;
    client.io.engine.close();
    await waitFor('node a saw the disconnect', () => !a.io.sockets.sockets.has(id));
    await waitFor(
      'the session is stored',
      async () => (await a.collection.countDocuments({ kind: 'session', pid })) === 1,
    );
    const { seen } = tap(b);
    a.io.emit('m', 'missed');
    await waitFor('node b delivered the missed packet live', () => seen.length === 1);
    let replayed: string[] = [];
    const back = await connect(b, '/', { auth: { pid, offset } }, (s) => (replayed = record<string>(s, 'm')));
    expect(back.id).toBe(id);
    await waitFor('the missed packet replayed', () => replayed.includes('missed'));
    b.io.emit('m', 'live');
    await waitFor('the live one', () => replayed.includes('live'));
    expect(replayed).toEqual(['missed', 'live']);
    expect(seen.map((s) => s.args[0])).toEqual(['missed', 'live']);
  });
});
