import { it } from 'vitest';
import { faultRun } from './fault-run.js';

it('repro loop', { timeout: 600_000 }, async () => {
  const until = Date.now() + Number(process.env.REPRO_MS ?? 150_000);
  let i = 0;
  while (Date.now() < until) {
    i++;
    let standInRef: any;
    try {
      await faultRun(async (mongo) => { standInRef = mongo; await mongo.restart({ keepData: false, downtimeMs: 100 }); }, { rounds: 1 });
    } catch (e) {
      console.log('FAILED iteration', i, (e as Error).message);
      console.log('STANDIN', JSON.stringify(standInRef?.counters));
      throw e;
    }
  }
  console.log('iterations', i);
});
