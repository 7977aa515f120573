import { afterEach, describe, expect, it } from 'vitest';
import type { AdapterEventMap } from '../src/index.js';
import { onStandIn, sleep, startCluster, startMongo, startNode, waitFor, type Mongo, type Node } from './support.js';

/** Membership as the adapter reports it (`node-left`, `liveNodes()`), and closing. */

let mongo: Mongo | undefined;
let nodes: Node[] = [];

afterEach(async () => {
  await Promise.all(nodes.map((node) => node.close()));
  nodes = [];
  await mongo?.stop();
  mongo = undefined;
});

type NodeLeft = AdapterEventMap['node-left'];

function recordNodeLeft(node: Node): NodeLeft[] {
  const seen: NodeLeft[] = [];
  node.factory.events.on('node-left', (event) => seen.push(event));
  return seen;
}

describe('node-left', () => {
  it('is emitted once, with reason "closed", on every other node when a node shuts down', async () => {
    mongo = await startMongo();
    nodes = await startCluster(mongo, 3);
    const [a, b, c] = nodes as [Node, Node, Node];
    const leftOnA = recordNodeLeft(a);
    const leftOnB = recordNodeLeft(b);
    const uidOfC = c.adapter().health().node;
    expect(a.adapter().liveNodes()).toContain(uidOfC);

    await c.close();
    await waitFor('both survivors saw it leave', () => leftOnA.length > 0 && leftOnB.length > 0);
    // Heartbeats keep flowing: a departure must not be reported again.
    await waitFor('a heartbeat round later', async () => (await a.adapter().serverCount()) === 2);
    for (const [seen, survivor] of [
      [leftOnA, a],
      [leftOnB, b],
    ] as const) {
      expect(seen).toEqual([{ node: survivor.adapter().health().node, nsp: '/', uid: uidOfC, reason: 'closed' }]);
      expect(survivor.adapter().liveNodes()).not.toContain(uidOfC);
    }
  });

  (onStandIn ? it : it.skip)('is emitted with reason "timeout" when a node goes silent', async () => {
    mongo = await startMongo();
    nodes = await startCluster(mongo, 2);
    const [a, b] = nodes as [Node, Node];
    const leftOnA = recordNodeLeft(a);
    const uidOfB = b.adapter().health().node;
    // node-1 can no longer write: no heartbeat, no ADAPTER_CLOSE reaches the others.
    mongo.standIn!.faults.failCommands({
      commands: ['insert'],
      times: Number.POSITIVE_INFINITY,
      closeConnection: true,
      appName: 'node-1',
    });
    await waitFor('A evicted B', () => leftOnA.length > 0, 10_000);
    expect(leftOnA).toEqual([{ node: a.adapter().health().node, nsp: '/', uid: uidOfB, reason: 'timeout' }]);
    expect(a.adapter().liveNodes()).toEqual([]);
    mongo.standIn!.faults.clearFailCommands();
  });

  it('is emitted per namespace, each with its own nsp', async () => {
    mongo = await startMongo();
    nodes = await startCluster(mongo, 2);
    const [a, b] = nodes as [Node, Node];
    a.io.of('/chat');
    b.io.of('/chat');
    await waitFor('both namespaces see the other node', async () => (await a.adapter('/chat').serverCount()) === 2);
    const left = recordNodeLeft(a);
    await b.close();
    await waitFor('both namespaces reported it', () => left.length === 2);
    expect(left.map((event) => event.nsp).sort()).toEqual(['/', '/chat']);
  });
});

describe('close', () => {
  it('returns the same promise to every caller, resolved once the adapter is really closed', async () => {
    mongo = await startMongo();
    const node = await startNode(mongo);
    nodes = [node];
    await waitFor('ready', () => node.adapter().health().ready);
    const adapter = node.adapter();
    const first = adapter.close();
    const second = adapter.close();
    expect(second).toBe(first);
    await second;
    expect(adapter.health().changeStream).toBe('closed');
  });
});

describe('health during MongoDB trouble', () => {
  (onStandIn ? it : it.skip)(
    'waits for a primary while ready, is not ready once the wait outlasts noPrimaryGraceMs, ready again after the election',
    async () => {
      mongo = await startMongo({ members: 3 });
      nodes = await startCluster(mongo, 2, { adapter: { noPrimaryGraceMs: 1000 } });
      const [a] = nodes as [Node, Node];
      const statuses: string[] = [];
      a.factory.events.on('state', ({ node, status }) => {
        if (node === a.adapter().health().node && statuses.at(-1) !== status) statuses.push(status);
      });
      mongo.standIn!.faults.failover({ electionMs: 2500 });
      await waitFor('the election to be seen', () => a.adapter().health().mongo === 'no-primary');
      expect(a.adapter().health()).toMatchObject({ ready: true, status: 'waiting-for-primary' });
      await waitFor('the grace to run out', () => a.adapter().health().status === 'no-primary');
      expect(a.adapter().health().ready).toBe(false);
      await waitFor('the new primary', () => a.adapter().health().status === 'ready', 10_000);
      expect(statuses).toEqual(['waiting-for-primary', 'no-primary', 'ready']);
      expect(a.adapter().liveNodes()).toHaveLength(1);
    },
  );

  (onStandIn ? it : it.skip)(
    'is unreachable, and not ready, once no member has answered for heartbeatTimeout',
    async () => {
      mongo = await startMongo({ members: 3 });
      nodes = await startCluster(mongo, 1);
      const [a] = nodes as [Node];
      const restart = mongo.standIn!.restart({ keepData: true, downtimeMs: 2500 });
      await waitFor('no member to answer', () => a.adapter().health().mongo === 'unreachable');
      expect(a.adapter().health()).toMatchObject({ ready: true, status: 'waiting-for-primary' });
      await waitFor('heartbeatTimeout to pass', () => a.adapter().health().status === 'unreachable');
      expect(a.adapter().health().ready).toBe(false);
      await restart;
      await waitFor('ready again', () => a.adapter().health().status === 'ready', 10_000);
    },
  );

  (onStandIn ? it : it.skip)(
    'a node that cannot hear while MongoDB has a primary says it is deaf, and evicts nobody (the others evict it)',
    async () => {
      mongo = await startMongo({ members: 3 });
      nodes = await startCluster(mongo, 3);
      const [a, b, c] = nodes as [Node, Node, Node];
      const leftOnA = recordNodeLeft(a);
      const leftOnB = recordNodeLeft(b);
      // Node 0's change stream delivers nothing (its getMores and aggregates fail); its writes still work.
      mongo.standIn!.faults.failCommands({
        commands: ['getMore', 'aggregate'],
        times: Number.POSITIVE_INFINITY,
        code: 8000,
        errorLabels: [],
        appName: 'node-0',
      });
      await waitFor('node 0 to call itself deaf', () => a.adapter().health().status === 'deaf');
      expect(a.adapter().health()).toMatchObject({ ready: false, mongo: 'primary', hearing: false });
      await waitFor('the others to stop counting on it', () => leftOnB.length > 0);
      expect(leftOnB.map((event) => event.uid)).toEqual([a.adapter().health().node]);
      // Long past its heartbeat timeout, node 0 has heard nothing of b and c, and evicted neither: it cannot
      // tell their silence from its own deafness.
      await sleep(2000);
      expect(leftOnA).toEqual([]);
      expect(a.adapter().liveNodes().sort()).toEqual([b.adapter().health().node, c.adapter().health().node].sort());
      mongo.standIn!.faults.clearFailCommands();
      await waitFor('node 0 hears again', () => a.adapter().health().status === 'ready');
    },
  );
});
