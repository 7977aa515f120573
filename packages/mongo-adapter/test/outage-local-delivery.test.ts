import { afterEach, describe, expect, it } from 'vitest';
import type { MongoStandIn } from '@switchyard/mongo-standin';
import type { Socket as ClientSocket } from 'socket.io-client';
import {
  closeClients,
  connect,
  onStandIn,
  printTargetNotice,
  startCluster,
  startMongo,
  waitFor,
  type Mongo,
  type Node,
} from './support.js';

/**
 * With connection state recovery on (the gateway's default in MongoDB mode), local delivery never waits for
 * MongoDB: while MongoDB has no primary, or its change streams see nothing, the clients of one node keep
 * hearing each other at once (with recovery offsets), cross-node messages wait in the outbox, and once
 * MongoDB is back everything arrives everywhere, exactly once, in each sender's order. Each outage lasts
 * until the test ends it: nothing here depends on how long anything takes.
 */
printTargetNotice('outage runs');
const runs = onStandIn ? describe : describe.skip;

const RECOVERY = { connectionStateRecovery: { maxDisconnectionDuration: 60_000 } };

interface Said {
  from: string;
  n: number;
}

let mongo: Mongo | undefined;
let nodes: Node[] = [];

afterEach(async () => {
  closeClients();
  await Promise.all(nodes.map((node) => node.close()));
  nodes = [];
  await mongo?.stop();
  mongo = undefined;
});

async function chat(standIn: Parameters<typeof startMongo>[0]): Promise<[Node, Node]> {
  mongo = await startMongo(standIn);
  nodes = await startCluster(mongo, 2, { server: RECOVERY });
  for (const node of nodes) {
    node.io.on('connection', (socket) => {
      socket.on('join', (room: string, done: () => void) => {
        void socket.join(room);
        done();
      });
      socket.on('say', (said: Said) => void node.io.to('chat').emit('said', said));
    });
  }
  return nodes as [Node, Node];
}

/** Every `said` a client gets, with the offset socket.io appended. */
function listen(client: ClientSocket): Array<{ said: Said; offset: unknown }> {
  const got: Array<{ said: Said; offset: unknown }> = [];
  client.on('said', (said: Said, offset: unknown) => got.push({ said, offset }));
  return got;
}

const outages: Array<[string, Parameters<typeof startMongo>[0], (standIn: MongoStandIn) => void]> = [
  ['the primary has stepped down (no primary)', {}, (standIn) => standIn.faults.stepDown(120_000)],
  ['change streams see nothing (writes still land)', {}, (standIn) => standIn.faults.pauseChangeEvents()],
  [
    'a three-member replica set is electing a new primary',
    { members: 3 },
    (standIn) => standIn.faults.failover({ electionMs: 120_000 }),
  ],
];

runs('local delivery while MongoDB is unavailable, recovery on', { timeout: 60_000 }, () => {
  it.each(outages)(
    'while %s, local clients hear each other at once; the rest flows in order afterwards',
    async (_name, standIn, begin) => {
      const [a, b] = await chat(standIn);
      const alice = await connect(a);
      const bob = await connect(a);
      const carol = await connect(b);
      for (const client of [alice, bob, carol]) await client.timeout(5000).emitWithAck('join', 'chat');
      const got = new Map([alice, bob, carol].map((client) => [client, listen(client)]));
      const count = (client: ClientSocket, from: string) =>
        got.get(client)!.filter((entry) => entry.said.from === from).length;

      alice.emit('say', { from: 'alice', n: 0 });
      carol.emit('say', { from: 'carol', n: 0 });
      await waitFor('the first messages everywhere', () =>
        [alice, bob, carol].every((client) => count(client, 'alice') === 1 && count(client, 'carol') === 1),
      );

      begin(mongo!.standIn!);
      const during = 5;
      for (let n = 1; n <= during; n++) {
        alice.emit('say', { from: 'alice', n });
        bob.emit('say', { from: 'bob', n });
        carol.emit('say', { from: 'carol', n });
      }
      await waitFor(
        'alice and bob heard each other, and carol heard herself',
        () =>
          [alice, bob].every((client) => count(client, 'alice') === 1 + during && count(client, 'bob') === during) &&
          count(carol, 'carol') === 1 + during,
      );
      // Still during the outage: nothing crossed nodes, yet every local packet carries its recovery offset.
      expect(count(alice, 'carol')).toBe(1);
      expect(count(carol, 'alice')).toBe(1);
      for (const entries of got.values()) for (const entry of entries) expect(typeof entry.offset).toBe('string');

      mongo!.standIn!.faults.reset();
      await waitFor(
        'every message everywhere',
        () =>
          [alice, bob, carol].every(
            (client) =>
              count(client, 'alice') === 1 + during &&
              count(client, 'bob') === during &&
              count(client, 'carol') === 1 + during,
          ),
        30_000,
      );
      for (const [client, entries] of got) {
        for (const from of ['alice', 'bob', 'carol']) {
          const ns = entries.filter((entry) => entry.said.from === from).map((entry) => entry.said.n);
          const first = from === 'bob' ? 1 : 0;
          expect(ns, `${client === carol ? 'carol' : client === bob ? 'bob' : 'alice'} from ${from}`).toEqual(
            Array.from({ length: 1 + during - first }, (_, i) => first + i),
          );
        }
      }
    },
  );
});
