import { MongoClient } from 'mongodb';
import { expect, it } from 'vitest';
import { MongoStandIn } from '../src/index.js';

it('scratch stress', { timeout: 60_000 }, async () => {
  const mongo = await MongoStandIn.start();
  const client = new MongoClient(mongo.uri, { serverSelectionTimeoutMS: 5000, heartbeatFrequencyMS: 500 });
  await client.connect();
  const coll = client.db('s').collection('c');
  mongo.faults.setWriteLatency(Number(process.env.LAT ?? 5));
  const streams = Array.from({ length: 4 }, () => coll.watch([], { maxAwaitTimeMS: 20 }));
  let stop = false;
  const readers = streams.map(async (s) => { while (!stop) { try { await s.tryNext(); } catch { /* */ } } });
  const unsettled = new Set<number>();
  const results: string[] = [];
  let id = 0;
  const writers = Array.from({ length: 20 }, async (_, w) => {
    for (let k = 0; k < 15; k++) {
      const my = id++;
      unsettled.add(my);
      const p = coll.insertMany(Array.from({ length: 20 }, (_, i) => ({ w, k, i }))).then(() => 'ok', (e) => String(e.code ?? e.name));
      const timer = new Promise<string>((r) => setTimeout(() => r('HANG'), 15000));
      const r = await Promise.race([p, timer]);
      unsettled.delete(my);
      results.push(r);
    }
  });
  const dropper = (async () => { const drops:number[]=[]; for (let i = 0; i < Number(process.env.ROUNDS ?? 30); i++) { await new Promise((r) => setTimeout(r, Number(process.env.GAP ?? 40) + (i % 7) * 4)); drops.push(mongo.faults.dropConnections()); } console.log('drops', drops.join(',')); })();
  await Promise.all([...writers, dropper]);
  stop = true;
  await Promise.all(readers);
  const counts: Record<string, number> = {};
  for (const r of results) counts[r] = (counts[r] ?? 0) + 1;
  console.log(JSON.stringify(counts), mongo.counters.connectionsDropped);
  await client.close(true);
  await mongo.stop();
  expect(counts.HANG ?? 0).toBe(0);
});
