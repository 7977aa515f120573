import { describe, expect, it } from 'vitest';
import { deliveryProblems, faultRun, STANDIN_SHAPES, summary } from './fault-run.js';
import { onStandIn, printTargetNotice } from './support.js';

/**
 * Fault runs: three nodes exchange numbered broadcasts while the stand-in breaks in one way, repeatedly.
 * Every receiver must get every message exactly once, in per-sender order.
 */
printTargetNotice('fault runs');
const runs = onStandIn ? describe : describe.skip;

for (const { label, standIn } of STANDIN_SHAPES) {
  runs(`fault runs: exactly once, in order (${label})`, { timeout: 40_000 }, () => {
    it('survives dropped connections', async () => {
      const result = await faultRun((mongo) => void mongo.faults.dropConnections(), { rounds: 4, standIn });
      if (process.env.DEBUG_FAULTS) console.log(JSON.stringify(summary(result)));
      expect(deliveryProblems(result)).toEqual([]);
      expect(result.gaps).toEqual([0, 0, 0]);
    });

    it('survives step-downs (writes and getMores fail with NotWritablePrimary)', async () => {
      const result = await faultRun((mongo) => mongo.faults.stepDown(250), { standIn });
      if (process.env.DEBUG_FAULTS) console.log(JSON.stringify(summary(result)));
      expect(deliveryProblems(result)).toEqual([]);
      expect(result.gaps).toEqual([0, 0, 0]);
    });

    it('survives failed commands: inserts, getMores and aggregates, with and without labels', async () => {
      const result = await faultRun(
        (mongo, round) => {
          const variants = [
            { commands: ['insert'], times: 3, code: 91 },
            { commands: ['getMore'], times: 2, code: 8000, errorLabels: [] },
            { commands: ['aggregate', 'getMore'], times: 3, code: 8000, errorLabels: [] },
            { commands: ['getMore', 'insert'], times: 3, closeConnection: true },
          ];
          mongo.faults.failCommands(variants[round % variants.length]!);
        },
        { rounds: 4, standIn },
      );
      if (process.env.DEBUG_FAULTS) console.log(JSON.stringify(summary(result)));
      expect(deliveryProblems(result)).toEqual([]);
      expect(result.gaps).toEqual([0, 0, 0]);
    });

    it('survives slow majority writes and late change events', async () => {
      const result = await faultRun(
        (mongo, round) => {
          mongo.faults.setWriteLatency(round % 2 === 0 ? 40 : 0);
          mongo.faults.setEventDelay(round % 2 === 0 ? 0 : 60);
        },
        { rounds: 4, standIn },
      );
      if (process.env.DEBUG_FAULTS) console.log(JSON.stringify(summary(result)));
      expect(deliveryProblems(result)).toEqual([]);
    });

    it('survives paused change-event delivery (a lagging secondary)', async () => {
      const result = await faultRun(
        async (mongo) => {
          mongo.faults.pauseChangeEvents();
          await new Promise((resolve) => setTimeout(resolve, 250));
          mongo.faults.resumeChangeEvents();
        },
        { standIn },
      );
      if (process.env.DEBUG_FAULTS) console.log(JSON.stringify(summary(result)));
      expect(deliveryProblems(result)).toEqual([]);
      expect(result.gaps).toEqual([0, 0, 0]);
    });
  });
}
