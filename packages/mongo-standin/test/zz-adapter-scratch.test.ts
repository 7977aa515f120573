import { it } from 'vitest';
const trace = { records: [] as Array<{ conn: number; req: number; cmd: string | undefined; t: number; replied: number; mtc: boolean }>, closes: new Map<number, number>() };
(globalThis as Record<string, unknown>).__standinTrace = trace;

import { Collection, MongoClient } from 'mongodb';
import { createRequire } from 'node:module';
const req = createRequire(import.meta.url);
const driverPath = req.resolve('mongodb');
const ConnMod = req(driverPath.replace(/index\.js$/, 'cmap/connection.js')) as { Connection: { prototype: Record<string, unknown> } };
const allConns = new Set<Record<string, any>>();
const origWrite = ConnMod.Connection.prototype.writeCommand as (...a: unknown[]) => Promise<unknown>;
ConnMod.Connection.prototype.writeCommand = function (this: Record<string, any>, ...a: unknown[]) { allConns.add(this); this.__lastWrite = Date.now(); this.__writing = (this.__writing ?? 0) + 1; const p = origWrite.apply(this, a); p.then(() => { this.__writing -= 1; }, (e: Error) => { this.__writing -= 1; this.__writeErr = String(e); }); return p; };
(globalThis as Record<string, unknown>).__allConns = allConns;
const ev: string[] = [];
let clientSeq = 0;
const inflightCmds = new Map<string, string>();
const origConnect = MongoClient.prototype.connect;
(MongoClient.prototype as unknown as { connect: unknown }).connect = function (this: MongoClient) {
  const ci = ++clientSeq; const T0 = (globalThis as { __t0?: number }).__t0 ?? 0;
  if (!(this as unknown as { __traced?: boolean }).__traced) {
    (this as unknown as { __traced?: boolean }).__traced = true;
    this.monitorCommands = true;
    const at = () => Date.now() - T0;
    this.on('commandStarted', (e) => { inflightCmds.set(`${ci}:${e.connectionId}:${e.requestId}`, `${at()} c${ci} ${e.commandName} conn${e.connectionId} req${e.requestId}`); if (e.commandName === 'insert') ev.push(`${at()} c${ci} insert start conn${e.connectionId} req${e.requestId}`); });
    const done = (ok: string) => (e: { connectionId?: string | number; requestId: number; commandName: string }) => { inflightCmds.delete(`${ci}:${e.connectionId}:${e.requestId}`); if (e.commandName === 'insert') ev.push(`${at()} c${ci} insert ${ok} conn${e.connectionId} req${e.requestId}`); };
    this.on('commandSucceeded', done('ok')); this.on('commandFailed', done('FAIL'));
    this.on('serverDescriptionChanged', (e) => ev.push(`${at()} c${ci} sdc ${e.previousDescription.type}->${e.newDescription.type} ${e.newDescription.error?.message ?? ''}`));
    this.on('connectionPoolCleared', () => ev.push(`${at()} c${ci} poolCleared`));
    this.on('connectionPoolReady', () => ev.push(`${at()} c${ci} poolReady`));
    this.on('connectionCheckOutFailed', (e) => ev.push(`${at()} c${ci} checkoutFailed ${e.reason}`));
    this.on('connectionCreated', (e) => ev.push(`${at()} c${ci} connCreated ${e.connectionId}`));
    this.on('connectionClosed', (e) => ev.push(`${at()} c${ci} connClosed ${e.connectionId} ${e.reason}`));
    this.on('serverHeartbeatFailed', (e) => ev.push(`${at()} c${ci} hbFailed ${e.failure.message}`));
    this.on('serverHeartbeatSucceeded', () => ev.push(`${at()} c${ci} hbOk`));
    this.on('topologyDescriptionChanged', (e) => ev.push(`${at()} c${ci} topo ${e.newDescription.type}`));
  }
  return (origConnect as () => Promise<MongoClient>).apply(this);
};
const ops = new Map<number, { t: number; end?: number; r?: string }>();
let opSeq = 0;
const origInsertMany = Collection.prototype.insertMany;
(Collection.prototype as unknown as { insertMany: unknown }).insertMany = function (this: Collection, ...args: unknown[]) {
  const id = ++opSeq; const rec: { t: number; end?: number; r?: string } = { t: Date.now() }; ops.set(id, rec);
  const p = (origInsertMany as (...a: unknown[]) => Promise<unknown>).apply(this, args);
  p.then(() => { rec.end = Date.now(); rec.r = 'ok'; }, (e: Error) => { rec.end = Date.now(); rec.r = e.name + ':' + e.message.slice(0, 80); });
  return p;
};
it('adapter fault run, traced', { timeout: 120_000 }, async () => {
  const { faultRun } = await import('../../mongo-adapter/test/fault-run.js');
  const t0 = Date.now(); (globalThis as { __t0?: number }).__t0 = t0;
  const origWarn = console.warn;
  const warns: string[] = [];
  console.warn = (...a: unknown[]) => { warns.push(`${Date.now() - t0} ${a.map(String).join(' ')}`); };
  try {
    const logger = { debug() {}, info() {}, warn: (o: object, m?: string) => warns.push(`${Date.now() - t0} ${m} ${JSON.stringify(o)}`), error: (o: object, m?: string) => warns.push(`${Date.now() - t0} ERR ${m} ${JSON.stringify(o)}`) };
    await faultRun((mongo) => (warns.push(`${Date.now() - t0} RESTART`), mongo.restart({ keepData: true, downtimeMs: 200 })), { rounds: 2, node: { adapter: { logger } } });
    await faultRun(async (mongo) => { mongo.faults.pauseChangeEvents(); await new Promise((r) => setTimeout(r, 60)); mongo.faults.loseHistory(); mongo.faults.dropConnections(); mongo.faults.resumeChangeEvents(); }, { rounds: 2, node: { adapter: { logger } } });
    await faultRun((mongo) => void mongo.faults.dropConnections(), { rounds: 4, node: { adapter: { logger } } });
    await faultRun((mongo) => (warns.push(`${Date.now() - t0} RESTART-nodata`), mongo.restart({ keepData: false, downtimeMs: 100 })), { rounds: 1, node: { adapter: { logger: { debug() {}, info() {}, warn: (o: object, m?: string) => warns.push(`${Date.now() - t0} ${m} ${JSON.stringify(o)}`), error: (o: object, m?: string) => warns.push(`${Date.now() - t0} ERR ${m} ${JSON.stringify(o)}`) } } } });
  } finally { console.warn = origWarn; }
  const end = Date.now();
  const bad = trace.records.filter((r) => !r.replied && !r.mtc && !((trace.closes.get(r.conn) ?? Infinity) < end));
  const slow = trace.records.filter((r) => !r.mtc && ((r.done || end) - r.t) > 1000);
  console.log(warns.filter((w) => /settle|failed|RESTART/.test(w)).join('\n'));
  await new Promise((r) => setTimeout(r, 100));
  console.log('slow inserts', JSON.stringify([...ops.values()].filter((o) => (o.end ?? Date.now()) - o.t > 1500).map((o) => ({ t: o.t - t0, took: (o.end ?? Date.now()) - o.t, r: o.r ?? 'UNSETTLED' }))));
  console.log('EVENTS\n' + ev.join('\n'));
  console.log('inflight cmds', [...inflightCmds.values()].join('\n'));
  const stuckReqs = new Set([...inflightCmds.values()].map((v) => Number(/req(\d+)/.exec(v)![1])));
  console.log('stand-in view of stuck', JSON.stringify(trace.records.filter((r) => stuckReqs.has(r.req)).map((r) => ({ ...r, t: r.t - t0, done: r.done && r.done - t0, replied: r.replied && r.replied - t0, closed: (trace.closes.get(r.conn) ?? 0) - t0 }))));
  const stuckConns = [...allConns].filter((c) => c.dataEvents != null || c.__writing > 0);
  console.log('stuck driver conns', JSON.stringify(stuckConns.map((c) => ({ writing: c.__writing, id: c.id, closed: c.closed, err: String(c.error), lastWrite: c.__lastWrite - t0, sDestroyed: c.socket.destroyed, sFlowing: c.socket.readableFlowing, sReadLen: c.socket.readableLength, sEnded: c.socket.readableEnded, sWritable: c.socket.writable, sWLen: c.socket.writableLength, sPending: c.socket.pending, sConnecting: c.socket.connecting, local: c.socket.localPort, remote: c.socket.remotePort, msFlowing: c.messageStream.readableFlowing, msReadLen: c.messageStream.readableLength, msWLen: c.messageStream.writableLength, hasHandle: !!c.socket._handle })), null, 0));
  console.log('unanswered & unclosed', JSON.stringify(bad.map((r) => ({ ...r, t: r.t - t0 }))));
  console.log('slow', JSON.stringify(slow.map((r) => ({ ...r, t: r.t - t0, replied: r.replied && r.replied - t0, done: r.done && r.done - t0, closed: (trace.closes.get(r.conn) ?? 0) - t0 }))));
});
