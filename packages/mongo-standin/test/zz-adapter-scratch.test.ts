import { it } from 'vitest';
const trace = { records: [] as Array<{ conn: number; req: number; cmd: string | undefined; t: number; replied: number; mtc: boolean }>, closes: new Map<number, number>() };
(globalThis as Record<string, unknown>).__standinTrace = trace;

it('adapter fault run, traced', { timeout: 120_000 }, async () => {
  const { faultRun } = await import('../../mongo-adapter/test/fault-run.js');
  const t0 = Date.now();
  const origWarn = console.warn;
  const warns: string[] = [];
  console.warn = (...a: unknown[]) => { warns.push(`${Date.now() - t0} ${a.map(String).join(' ')}`); };
  try {
    await faultRun((mongo) => mongo.restart({ keepData: false, downtimeMs: 100 }), { rounds: 1, node: { adapter: { logger: { debug() {}, info() {}, warn: (o: object, m?: string) => warns.push(`${Date.now() - t0} ${m} ${JSON.stringify(o)}`), error: (o: object, m?: string) => warns.push(`${Date.now() - t0} ERR ${m} ${JSON.stringify(o)}`) } } } });
  } finally { console.warn = origWarn; }
  const end = Date.now();
  const bad = trace.records.filter((r) => !r.replied && !r.mtc && !((trace.closes.get(r.conn) ?? Infinity) < end));
  const slow = trace.records.filter((r) => !r.mtc && ((r.replied ? r.replied : (trace.closes.get(r.conn) ?? end)) - r.t) > 1500);
  console.log(warns.filter((w) => /settle|failed/.test(w)).join('\n'));
  console.log('unanswered & unclosed', JSON.stringify(bad.map((r) => ({ ...r, t: r.t - t0 }))));
  console.log('slow', JSON.stringify(slow.map((r) => ({ ...r, t: r.t - t0, replied: r.replied && r.replied - t0, closed: (trace.closes.get(r.conn) ?? 0) - t0 }))));
});
