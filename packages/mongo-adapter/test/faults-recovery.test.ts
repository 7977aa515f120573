import { describe, expect, it } from 'vitest';
import { deliveryProblems, faultRun } from './fault-run.js';
import { onStandIn, printTargetNotice } from './support.js';

/**
 * The fault runs again with connection state recovery on (the gateway's default in MongoDB mode): each node
 * places its own broadcasts in its delivery order and serves them at once, whatever MongoDB does. Every
 * receiver must still get every message exactly once, in per-sender order, its own node's included.
 */
printTargetNotice('fault runs');
const runs = onStandIn ? describe : describe.skip;

const RECOVERY = { server: { connectionStateRecovery: { maxDisconnectionDuration: 60_000 } } };

runs('fault runs with recovery on: exactly once, in order', { timeout: 40_000 }, () => {
  it('survives dropped connections', async () => {
    const result = await faultRun((mongo) => void mongo.faults.dropConnections(), { rounds: 4, node: RECOVERY });
    expect(deliveryProblems(result)).toEqual([]);
    expect(result.gaps).toEqual([0, 0, 0]);
  });

  it('survives step-downs', async () => {
    const result = await faultRun((mongo) => mongo.faults.stepDown(250), { node: RECOVERY });
    expect(deliveryProblems(result)).toEqual([]);
    expect(result.gaps).toEqual([0, 0, 0]);
  });

  it('survives failed inserts and getMores', async () => {
    const result = await faultRun(
      (mongo, round) => {
        const variants = [
          { commands: ['insert'], times: 3, code: 91 },
          { commands: ['getMore', 'insert'], times: 3, closeConnection: true },
        ];
        mongo.faults.failCommands(variants[round % variants.length]!);
      },
      { rounds: 4, node: RECOVERY },
    );
    expect(deliveryProblems(result)).toEqual([]);
    expect(result.gaps).toEqual([0, 0, 0]);
  });

  it('survives paused change-event delivery', async () => {
    const result = await faultRun(
      async (mongo) => {
        mongo.faults.pauseChangeEvents();
        await new Promise((resolve) => setTimeout(resolve, 250));
        mongo.faults.resumeChangeEvents();
      },
      { node: RECOVERY },
    );
    expect(deliveryProblems(result)).toEqual([]);
    expect(result.gaps).toEqual([0, 0, 0]);
  });
});
