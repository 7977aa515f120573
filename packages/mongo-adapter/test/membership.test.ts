import { afterEach, describe, expect, it } from 'vitest';
import type { AdapterEventMap } from '../src/index.js';
import { onStandIn, startCluster, startMongo, startNode, waitFor, type Mongo, type Node } from './support.js';

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
