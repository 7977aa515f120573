import { describe, expect, it } from 'vitest';
import { deliveryProblems, faultRun, STANDIN_SHAPES, summary } from './fault-run.js';
import { onStandIn, printTargetNotice } from './support.js';

printTargetNotice('fault runs');
const runs = onStandIn ? describe : describe.skip;

for (const { label, standIn } of STANDIN_SHAPES) {
  runs(`fault runs: restarts and lost history (${label})`, { timeout: 40_000 }, () => {
    it('survives restarts that keep the data, without a gap', async () => {
      const result = await faultRun((mongo) => mongo.restart({ keepData: true, downtimeMs: 200 }), {
        rounds: 2,
        standIn,
      });
      if (process.env.DEBUG_FAULTS) console.log(JSON.stringify(summary(result)));
      expect(deliveryProblems(result)).toEqual([]);
      expect(result.gaps).toEqual([0, 0, 0]);
    });

    it('reports a gap when history is lost, and never duplicates or reorders across it', async () => {
      const result = await faultRun(
        async (mongo) => {
          // Streams lag behind the newest write, so resuming after the loss must fail with 286.
          mongo.faults.pauseChangeEvents();
          await new Promise((resolve) => setTimeout(resolve, 60));
          mongo.faults.loseHistory();
          mongo.faults.dropConnections();
          mongo.faults.resumeChangeEvents();
        },
        { rounds: 2, standIn },
      );
      if (process.env.DEBUG_FAULTS) console.log(JSON.stringify(summary(result)));
      expect(deliveryProblems(result)).toEqual([]);
      expect(result.gaps.some((g) => g > 0)).toBe(true);
    });

    it('reports a gap after a restart that lost the data', async () => {
      const result = await faultRun((mongo) => mongo.restart({ keepData: false, downtimeMs: 100 }), {
        rounds: 1,
        standIn,
      });
      if (process.env.DEBUG_FAULTS) console.log(JSON.stringify(summary(result)));
      expect(deliveryProblems(result)).toEqual([]);
      expect(result.gaps.every((g) => g > 0)).toBe(true);
    });

    it('keeps exactly-once and order with connection state recovery on (own broadcasts via the stream)', async () => {
      const result = await faultRun(
        (mongo, round) => {
          if (round % 2 === 0) mongo.faults.dropConnections();
          else mongo.faults.stepDown(200);
        },
        { rounds: 4, standIn, node: { server: { connectionStateRecovery: {} } } },
      );
      if (process.env.DEBUG_FAULTS) console.log(JSON.stringify(summary(result)));
      expect(deliveryProblems(result)).toEqual([]);
      expect(result.gaps).toEqual([0, 0, 0]);
    });
  });
}
