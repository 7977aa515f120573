import { describe, expect, it } from 'vitest';
import { deliveryProblems, faultRun, primaryElected, summary, type FaultRunResult } from './fault-run.js';
import { FAST, onStandIn, printTargetNotice } from './support.js';

/**
 * Fault runs that need a replica set of three: elections that take seconds, rollbacks of writes the old
 * primary never replicated, write-concern errors on writes that were applied, replication lag. Three nodes
 * exchange numbered broadcasts meanwhile; every receiver must get every message exactly once, in per-sender
 * order, with no `gap` (no history is lost in any of these), and no node may go deaf or evict another
 * because MongoDB was electing or lagging.
 *
 * FAULT_ELECTION_MS sets the election of the first case (default 5000 ms, already five heartbeat timeouts
 * of these nodes); `FAULT_ELECTION_MS=mongod` uses the stand-in's default, 10–12 s as with mongod's settings.
 */
printTargetNotice('fault runs');
const runs = onStandIn ? describe : describe.skip;

const REPLICA_SET = { members: 3 };
const electionMs =
  process.env.FAULT_ELECTION_MS === 'mongod' ? undefined : Number(process.env.FAULT_ELECTION_MS ?? 5000);
/** Heartbeats for runs with replication lag: a probe's round trip includes the majority commit. */
const LAGGING = { ...FAST, heartbeatTimeout: 3000 };

function expectCleanRun(result: FaultRunResult): void {
  if (process.env.DEBUG_FAULTS) console.log(JSON.stringify(summary(result)));
  expect(deliveryProblems(result)).toEqual([]);
  expect(result.gaps, 'no history was lost: no gap').toEqual([0, 0, 0]);
  expect(result.nodeLeft, 'nobody evicted').toEqual([0, 0, 0]);
  expect(result.deafSpells, 'nobody deaf').toEqual([0, 0, 0]);
  for (const statuses of result.statuses) {
    // `closed` is the end of the run.
    expect(statuses.filter((status) => !['ready', 'waiting-for-primary', 'closed'].includes(status))).toEqual([]);
  }
}

runs('fault runs on a three-member replica set', () => {
  it(
    `rides out an election of ${electionMs === undefined ? '10–12 s' : `${electionMs} ms`}: local delivery goes on, nobody is evicted, everything flows in order afterwards`,
    { timeout: 90_000 },
    async () => {
      const spacingMs = 20;
      let failovers = 0;
      const result = await faultRun(
        async (mongo) => {
          mongo.faults.failover(electionMs === undefined ? {} : { electionMs });
          failovers = mongo.counters.failovers;
          await primaryElected(mongo);
        },
        {
          standIn: REPLICA_SET,
          rounds: 1,
          spacingMs,
          // Senders go on for the whole election: half the messages before it starts, the rest during it.
          messages: Math.ceil((2 * (electionMs ?? 12_000)) / spacingMs),
        },
      );
      expect(failovers).toBe(1);
      expectCleanRun(result);
      for (const [node, statuses] of result.statuses.entries()) {
        expect(statuses, `node ${node} said it waits for a primary`).toContain('waiting-for-primary');
      }
      expect(
        result.ownWhileNoPrimary.every((n) => n > 0),
        `every client got its own node's messages during the election: ${result.ownWhileNoPrimary.join(',')}`,
      ).toBe(true);
    },
  );

  it(
    'rides out an election with connection state recovery on: exactly once, in order, nobody evicted',
    {
      timeout: 60_000,
    },
    async () => {
      const result = await faultRun(
        async (mongo) => {
          mongo.faults.failover({ electionMs: 3000 });
          await primaryElected(mongo);
        },
        {
          standIn: REPLICA_SET,
          rounds: 1,
          spacingMs: 20,
          messages: 300,
          node: { server: { connectionStateRecovery: {} } },
        },
      );
      expectCleanRun(result);
    },
  );

  it(
    'loses nothing when the old primary fails and its unreplicated writes are rolled back',
    { timeout: 60_000 },
    async () => {
      let rolledBack = 0;
      const result = await faultRun(
        async (mongo, round) => {
          // The secondaries lag: the primary holds writes nobody else has when it fails.
          mongo.faults.failover({ electionMs: 1500, rollbackUnreplicated: true, to: round % 2 === 0 ? 1 : 2 });
          await primaryElected(mongo);
          rolledBack = mongo.counters.entriesRolledBack;
        },
        {
          standIn: REPLICA_SET,
          rounds: 2,
          messages: 400,
          before: (mongo) => mongo.faults.setReplicationLag(300),
          node: { adapter: LAGGING },
        },
      );
      expect(rolledBack, 'writes were rolled back').toBeGreaterThan(0);
      expectCleanRun(result);
    },
  );

  it(
    'writes exactly once what a writeConcernError reported after applying it (wtimeout, then retried)',
    {
      timeout: 60_000,
    },
    async () => {
      let timeouts = 0;
      const result = await faultRun(
        async (mongo) => {
          // Majority commit takes longer than wtimeout for a while: the primary applies each write and answers
          // WriteConcernFailed (64); the outbox retries, so each such message is in MongoDB twice.
          mongo.faults.setReplicationLag(400);
          await new Promise((resolve) => setTimeout(resolve, 500));
          mongo.faults.setReplicationLag(0);
          timeouts = mongo.counters.writeConcernTimeouts;
        },
        {
          standIn: REPLICA_SET,
          rounds: 3,
          node: { adapter: { ...LAGGING, writeConcern: { w: 'majority', wtimeout: 100 } } },
        },
      );
      expect(timeouts, 'writes failed their write concern after being applied').toBeGreaterThan(0);
      expect(
        result.duplicatesDropped.reduce((a, b) => a + b, 0),
        'the second copies reached the receivers, which dropped them',
      ).toBeGreaterThan(0);
      expectCleanRun(result);
    },
  );

  it('delivers exactly once, in order, with 200 ms of replication lag throughout', { timeout: 60_000 }, async () => {
    const result = await faultRun(
      async (mongo) => {
        // A step-down in the middle: the new primary is one of the lagging secondaries.
        mongo.faults.stepDown(250);
        await primaryElected(mongo);
      },
      {
        standIn: REPLICA_SET,
        rounds: 1,
        before: (mongo) => mongo.faults.setReplicationLag(200),
        node: { adapter: { ...FAST, heartbeatTimeout: 2000 } },
      },
    );
    expectCleanRun(result);
  });

  it(
    "survives a secondary's lag growing past wtimeout while the other secondary is far behind",
    {
      timeout: 60_000,
    },
    async () => {
      let timeouts = 0;
      const result = await faultRun(
        (mongo, round) => {
          // Member 1 is far behind (maintenance, a slow disk): a majority needs member 2, whose lag grows.
          mongo.faults.setReplicationLag([50, 150, 400, 800][round]!, 2);
          timeouts = mongo.counters.writeConcernTimeouts;
        },
        {
          standIn: REPLICA_SET,
          rounds: 4,
          messages: 250,
          before: (mongo) => mongo.faults.setReplicationLag(5000, 1),
          node: { adapter: { ...LAGGING, writeConcern: { w: 'majority', wtimeout: 300 } } },
        },
      );
      expect(timeouts, 'the lag passed wtimeout').toBeGreaterThan(0);
      expectCleanRun(result);
    },
  );
});
