import { afterEach, describe, expect, it } from 'vitest';
import {
  closeClients,
  connect,
  record,
  startNode,
  startMongo,
  waitFor,
  waitForCluster,
  type Mongo,
  type Node,
} from './support.js';

/**
 * `uid` (an option of @socket.io/mongo-adapter) is often a host name: a node restarted with the same one is
 * the same origin to the others, which remember the sequence numbers it used. A new run numbers from above
 * anything an earlier run used, so its messages are not dropped as duplicates of the old ones.
 */

let mongo: Mongo | undefined;
let nodes: Node[] = [];

afterEach(async () => {
  closeClients();
  await Promise.all(nodes.map((node) => node.close()));
  nodes = [];
  await mongo?.stop();
  mongo = undefined;
});

describe('a node restarted with the same uid', () => {
  it('is heard again at once, by nodes that heard its previous run', async () => {
    mongo = await startMongo();
    const first = await startNode(mongo, { adapter: { uid: 'host-a' } });
    const b = await startNode(mongo, { appName: 'node-b' });
    nodes = [first, b];
    await waitForCluster(nodes);
    const client = await connect(b);
    const got = record<string>(client, 'm');
    for (let i = 0; i < 20; i++) first.io.emit('m', `first-${i}`);
    await waitFor('the first run heard', () => got.length === 20);
    await first.close();

    const second = await startNode(mongo, { adapter: { uid: 'host-a' } });
    nodes = [second, b];
    await waitForCluster(nodes);
    second.io.emit('m', 'second-0');
    second.io.emit('m', 'second-1');
    await waitFor('the second run heard', () => got.length === 22);
    expect(got.slice(20)).toEqual(['second-0', 'second-1']);
    expect(b.adapter().health().counters.duplicates).toBe(0);
  });
});
