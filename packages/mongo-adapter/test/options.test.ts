import { MongoClient } from 'mongodb';
import { afterEach, describe, expect, it } from 'vitest';
import { createAdapter } from '../src/index.js';
import {
  closeClients,
  connect,
  onStandIn,
  record,
  startCluster,
  startMongo,
  startNode,
  waitFor,
  waitForCluster,
  type Mongo,
  type Node,
} from './support.js';

/** Every option of @socket.io/mongo-adapter is honoured or refused loudly. */

let mongo: Mongo | undefined;
let nodes: Node[] = [];

afterEach(async () => {
  closeClients();
  await Promise.all(nodes.map((node) => node.close()));
  nodes = [];
  mongo?.standIn?.faults.reset();
  await mongo?.stop();
  mongo = undefined;
});

function anyCollection() {
  return new MongoClient('mongodb://127.0.0.1:1/?replicaSet=rs0').db('x').collection('y');
}

describe('options refused loudly', () => {
  it('refuses unknown options (a typo must not be silently ignored)', () => {
    expect(() => createAdapter(anyCollection(), { requestTimeout: 200 } as never)).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTIONS', details: ['unknown option "requestTimeout"'] }),
    );
  });

  it('refuses stream positions in changeStreamOptions, and a uid offsets cannot carry', () => {
    expect(() =>
      createAdapter(anyCollection(), {
        changeStreamOptions: { resumeAfter: { _data: '82' }, startAtOperationTime: undefined },
        uid: 'has~tilde',
        requestsTimeout: 0,
        addCreatedAtField: 'yes' as never,
      }),
    ).toThrow(
      expect.objectContaining({
        code: 'INVALID_OPTIONS',
        details: expect.arrayContaining([
          expect.stringContaining('changeStreamOptions.resumeAfter'),
          expect.stringContaining('uid'),
          expect.stringContaining('requestsTimeout'),
          expect.stringContaining('addCreatedAtField'),
        ]),
      }),
    );
  });

  it('accepts maxAwaitTimeMS in changeStreamOptions, but not two different values', () => {
    expect(() => createAdapter(anyCollection(), { changeStreamOptions: { maxAwaitTimeMS: 200 } })).not.toThrow();
    expect(() =>
      createAdapter(anyCollection(), { maxAwaitTimeMS: 100, changeStreamOptions: { maxAwaitTimeMS: 200 } }),
    ).toThrow(expect.objectContaining({ code: 'INVALID_OPTIONS' }));
  });
});

describe('options honoured', () => {
  it('uid names the node: in its health, its documents and the offsets it hands out', async () => {
    mongo = await startMongo();
    const recovery = { connectionStateRecovery: {} };
    nodes = [
      await startNode(mongo, { appName: 'node-0', adapter: { uid: 'node-alpha' }, server: recovery }),
      await startNode(mongo, { appName: 'node-1', server: recovery }),
    ];
    await waitForCluster(nodes);
    const [a, b] = nodes as [Node, Node];
    expect(a.adapter().health().node).toBe('node-alpha');
    expect(b.adapter().liveNodes()).toEqual(['node-alpha']);
    const client = await connect(b);
    const got: unknown[][] = [];
    client.on('m', (...args: unknown[]) => got.push(args));
    a.io.emit('m', 1);
    await waitFor('the broadcast arrived', () => got.length === 1);
    expect(await a.collection.countDocuments({ origin: 'node-alpha', uid: 'node-alpha' })).toBeGreaterThan(0);
    const local = await connect(a);
    const gotLocal: unknown[][] = [];
    local.on('m', (...args: unknown[]) => gotLocal.push(args));
    a.io.emit('m', 2);
    await waitFor('delivered on node-alpha', () => gotLocal.length === 1);
    expect(String(gotLocal[0]![1])).toMatch(/~node-alpha~\d+$/);
  });

  it('addCreatedAtField: false leaves createdAt out of every message document; the default adds it', async () => {
    mongo = await startMongo();
    nodes = await startCluster(mongo, 1, { adapter: { addCreatedAtField: false } });
    await waitFor('some documents written', async () => (await nodes[0]!.collection.countDocuments({})) > 0);
    expect(await nodes[0]!.collection.countDocuments({ createdAt: { $exists: true } })).toBe(0);
    const other = await startCluster(mongo, 1, { collectionName: 'with-dates' });
    nodes.push(...other);
    await waitFor('some documents written', async () => (await other[0]!.collection.countDocuments({})) > 0);
    expect(await other[0]!.collection.countDocuments({ createdAt: { $exists: false } })).toBe(0);
  });

  (onStandIn ? it : it.skip)(
    'requestsTimeout bounds serverSideEmit and fetchSockets, with the official error text',
    async () => {
      mongo = await startMongo();
      nodes = await startCluster(mongo, 3, { adapter: { requestsTimeout: 300, heartbeatTimeout: 60_000 } });
      const [a, b] = nodes as [Node, Node, Node];
      b.io.on('ask', (cb: (v: string) => void) => cb('b'));
      nodes[2]!.io.on('ask', (cb: (v: string) => void) => cb('c'));
      // node-2 can no longer write: it still counts (heartbeatTimeout is a minute) but never answers.
      mongo.standIn!.faults.failCommands({
        commands: ['insert'],
        times: Number.POSITIVE_INFINITY,
        code: 8000,
        errorLabels: [],
        appName: 'node-2',
      });
      const outcome = await new Promise<{ err: Error | null; responses: unknown[] }>((resolve) =>
        a.io.serverSideEmit('ask', (err: Error | null, responses: unknown[]) => resolve({ err, responses })),
      );
      expect(outcome.err?.message).toBe('timeout reached: only 1 responses received out of 2');
      expect(outcome.responses).toEqual(['b']);
      await expect(a.io.fetchSockets()).rejects.toThrow('timeout reached: only 1 responses received out of 2');
      // socket.io's own per-call timeout still wins over requestsTimeout.
      a.adapter().requestsTimeout = 60_000;
      await expect(a.io.timeout(300).fetchSockets()).rejects.toThrow(/only 1 responses received out of 2/);
    },
  );
});

describe('broadcasts to a socket id', () => {
  it.each([
    ['recovery off', {}],
    ['recovery on', { connectionStateRecovery: {} }],
  ] as const)('reach the socket, and sockets of other nodes in a room of that name (%s)', async (_name, server) => {
    mongo = await startMongo();
    nodes = await startCluster(mongo, 2, { server });
    const [a, b] = nodes as [Node, Node];
    const target = await connect(a);
    const namesake = await connect(b);
    b.io.sockets.sockets.get(namesake.id!)!.join(target.id!);
    const gotTarget = record<string>(target, 'hi');
    const gotNamesake = record<string>(namesake, 'hi');
    a.io.to(target.id!).emit('hi', 'from a');
    b.io.to(target.id!).emit('hi', 'from b');
    await waitFor('both got both', () => gotTarget.length === 2 && gotNamesake.length === 2).catch((e) => {
      throw new Error(`${e.message}: ${JSON.stringify({ gotTarget, gotNamesake })}`);
    });
    a.io.emit('hi', 'sentinel');
    await waitFor('the sentinel', () => gotTarget.includes('sentinel') && gotNamesake.includes('sentinel'));
    expect([...gotTarget].sort()).toEqual(['from a', 'from b', 'sentinel']);
    expect([...gotNamesake].sort()).toEqual(['from a', 'from b', 'sentinel']);
  });
});
