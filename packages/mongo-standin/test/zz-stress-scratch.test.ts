import { MongoClient } from 'mongodb';
import { expect, it } from 'vitest';
import { MongoStandIn } from '../src/index.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log: string[] = [];
const t0 = Date.now();
const pending = new Map<string, { name: string; t: number; ci: number }>();
function track(c: MongoClient, ci: number) {
  c.on('commandStarted', (e) => pending.set(`${ci}:${e.connectionId}:${e.requestId}`, { name: e.commandName, t: Date.now(), ci }));
  const done = (e: { connectionId?: string | number; requestId: number; commandName: string; duration: number }) => { pending.delete(`${ci}:${e.connectionId}:${e.requestId}`); if (e.duration > 1000) log.push(`slowcmd ${ci} ${e.commandName}:${e.duration}`); };
  c.on('commandSucceeded', done); c.on('commandFailed', done);
  c.on('serverDescriptionChanged', (e) => log.push(`${Date.now() - t0} c${ci} sdc ${e.previousDescription.type}->${e.newDescription.type} ${e.newDescription.error?.message ?? ''}`));
  c.on('connectionPoolCleared', () => log.push(`${Date.now() - t0} c${ci} poolCleared`));
  c.on('serverHeartbeatFailed', (e) => log.push(`${Date.now() - t0} c${ci} hbFailed ${e.failure.message}`));
}
it('scratch stress', { timeout: 120_000 }, async () => {
  const mongo = await MongoStandIn.start();
  const clients = await Promise.all(Array.from({ length: 3 }, async (_, ci) => { const c = new MongoClient(mongo.uri, { serverSelectionTimeoutMS: 5000, heartbeatFrequencyMS: 500, monitorCommands: true }); track(c, ci); await c.connect(); return c; }));
  let stop = false;
  let maxMs = 0;
  const slowOps: string[] = [];
  const timed = async (what: string, p: Promise<unknown>) => { const t = Date.now(); const r = await Promise.race([p.then(() => 'ok', (e) => String(e.code ?? e.name)), sleep(15000).then(() => 'HANG')]); const d = Date.now() - t; maxMs = Math.max(maxMs, d); if (d > 1900) slowOps.push(`${what} started ${t - t0} took ${d} -> ${r}`); return r; };
  const readers = clients.map(async (c) => {
    const s = c.db('s').collection('c').watch([], { maxAwaitTimeMS: 50 });
    while (!stop) { const r = await timed('tryNext', s.tryNext()); if (r !== 'ok') { await sleep(10); if (s.closed) break; } }
    await s.close().catch(() => undefined);
  });
  const results: string[] = [];
  const writers = clients.map(async (c, ci) => {
    const coll = c.db('s').collection('c');
    for (let k = 0; k < Number(process.env.K ?? 150); k++) {
      results.push(await timed(`insert c${ci}`, coll.insertMany([{ ci, k }], { writeConcern: { w: 'majority' } })));
      await sleep(8);
    }
  });
  const faults = (async () => { for (let i = 0; i < Number(process.env.ROUNDS ?? 3); i++) { await sleep(Number(process.env.GAP ?? 400)); log.push(`${Date.now() - t0} FAULT`); if (process.env.RESTART) await mongo.restart({ keepData: process.env.RESTART === 'keep', downtimeMs: 150 }); else mongo.faults.dropConnections(); log.push(`${Date.now() - t0} FAULT done`); } })();
  await Promise.all([...writers, faults]);
  stop = true;
  await Promise.all(readers);
  const counts: Record<string, number> = {};
  for (const r of results) counts[r] = (counts[r] ?? 0) + 1;
  console.log(log.join('\n'));
  console.log('slowOps', slowOps.join('\n'));
  console.log('pendingAtEnd', [...pending.values()].map((p) => `${p.ci}:${p.name}@${Date.now() - p.t}`).join(','));
  console.log(JSON.stringify(counts), 'maxMs', maxMs);
  for (const c of clients) await c.close(true);
  await mongo.stop();
  expect(counts.HANG ?? 0).toBe(0);
});
