import { afterEach, describe, expect, it } from 'vitest';
import type { AdapterEventMap } from '../src/index.js';
import {
  closeClients,
  connect,
  onStandIn,
  printTargetNotice,
  record,
  startCluster,
  startMongo,
  waitFor,
  type Mongo,
  type Node,
} from './support.js';

/**
 * When the server no longer has a node's position (a restart without data, an oplog that rolled over),
 * the node starts again from the oldest point the server still has, not from "now": what was written
 * while it reconnected still reaches it, and the gap it reports covers only what is really gone.
 */
printTargetNotice('history-loss tests');
const runs = onStandIn ? describe : describe.skip;

let mongo: Mongo | undefined;
let nodes: Node[] = [];

afterEach(async () => {
  closeClients();
  await Promise.all(nodes.map((node) => node.close()));
  nodes = [];
  await mongo?.stop();
  mongo = undefined;
});

runs('after lost history', () => {
  it('a node that reopens late still gets what was written after the restart, and reports one gap', async () => {
    mongo = await startMongo();
    nodes = await startCluster(mongo, 2);
    const [a, b] = nodes as [Node, Node];
    const client = await connect(b);
    const got = record<number>(client, 'n');
    const gaps: Array<AdapterEventMap['gap']> = [];
    b.factory.events.on('gap', (gap) => {
      if (gap.node === b.adapter().health().node) gaps.push(gap);
    });
    // node-1 cannot reopen its change stream for now: it reconnects late.
    mongo.standIn!.faults.failCommands({
      commands: ['aggregate'],
      times: Number.POSITIVE_INFINITY,
      code: 8000,
      errorLabels: [],
      appName: 'node-1',
    });
    await mongo.standIn!.restart({ keepData: false, downtimeMs: 100 });
    for (let n = 1; n <= 20; n++) a.io.emit('n', n);
    await waitFor('node a wrote them all', () => a.adapter().health().outbox.docs === 0);
    if (process.env.DEBUG_HL)
      console.log(
        'failed so far',
        mongo.standIn!.counters.commandsFailed,
        JSON.stringify(mongo.standIn!.counters.commandsByName),
      );
    expect(got).toEqual([]);
    const reopenedAfter = Date.now();
    mongo.standIn!.faults.clearFailCommands();
    await waitFor('node b got all twenty', () => got.length >= 20, 15_000).catch((error: Error) => {
      throw new Error(
        `${error.message}: got ${JSON.stringify(got)}, gaps ${JSON.stringify(gaps)}, ${JSON.stringify(b.adapter().health())}`,
      );
    });
    expect(got).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(gaps).toHaveLength(1);
    expect(gaps[0]!.reason).toBe('history-lost');
    // The gap ends where the server's history starts again (the restart), not when node b reconnected.
    expect(gaps[0]!.to.getTime()).toBeLessThanOrEqual(reopenedAfter);
    expect(gaps[0]!.from.getTime()).toBeLessThanOrEqual(gaps[0]!.to.getTime());
  });
});
