import { readFileSync, readdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { ClusterAdapterWithHeartbeat } from 'socket.io-adapter';
import { DEFAULT_MAX_DOCUMENT_BYTES, feedPipeline, MongoAdapter } from '../src/index.js';
import {
  closeClients,
  connect,
  onStandIn,
  printTargetNotice,
  record,
  startCluster,
  startMongo,
  waitFor,
  type Mongo,
  type Node,
  type NodeOptions,
} from './support.js';

/**
 * One test per failure of @socket.io/mongo-adapter 0.4.0 listed in issue 4. Each one fails on the naive
 * design (the official adapter's), and passes here.
 */
printTargetNotice('fault-injection tests');
const faultIt = onStandIn ? it : it.skip;

let mongo: Mongo | undefined;
let nodes: Node[] = [];

async function cluster(count: number, options: NodeOptions = {}): Promise<Node[]> {
  mongo = await startMongo({ ttlMonitorIntervalMs: 250 }); // test 12 waits for a TTL pass (mongod: every 60 s)
  nodes = await startCluster(mongo, count, options);
  return nodes;
}

afterEach(async () => {
  closeClients();
  await Promise.all(nodes.map((n) => n.close()));
  nodes = [];
  await mongo?.stop();
  mongo = undefined;
});

describe('what @socket.io/mongo-adapter gets wrong', () => {
  faultIt('1. resumes after a change-stream error without the resumable label, losing nothing', async () => {
    const [a, b] = await cluster(2);
    const client = await connect(b!);
    const got = record<number>(client, 'n');
    const resumes: number[] = [];
    b!.factory.events.on('resume', (e) => resumes.push(e.attempt));
    const gaps: unknown[] = [];
    b!.factory.events.on('gap', (e) => gaps.push(e));
    mongo!.standIn!.faults.failCommands({
      commands: ['getMore'],
      times: 3,
      code: 8000,
      errorLabels: [],
      appName: 'node-1',
    });
    for (let i = 0; i < 60; i++) {
      a!.io.emit('n', i);
      if (i % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await waitFor('all 60 on the failing node', () => got.length >= 60);
    expect(got).toEqual(Array.from({ length: 60 }, (_, i) => i));
    expect(resumes.length).toBeGreaterThan(0);
    expect(gaps).toEqual([]);
  });

  faultIt('2. delivers to local clients when the insert fails, and to the others once it succeeds', async () => {
    const [a, b] = await cluster(2);
    const local = await connect(a!);
    const remote = await connect(b!);
    const gotLocal = record<string>(local, 'm');
    const gotRemote = record<string>(remote, 'm');
    mongo!.standIn!.faults.failCommands({
      commands: ['insert'],
      times: Number.POSITIVE_INFINITY,
      code: 8000,
      errorLabels: [],
      appName: 'node-0',
    });
    a!.io.emit('m', 'while-failing');
    await waitFor('the local client got it', () => gotLocal.length === 1);
    expect(gotRemote).toEqual([]);
    mongo!.standIn!.faults.clearFailCommands();
    await waitFor('the remote client got it after the retry', () => gotRemote.length === 1);
    expect(gotLocal).toEqual(['while-failing']);
    expect(gotRemote).toEqual(['while-failing']);
  });

  it('3. refuses a payload too large for one change event before writing; every stream keeps working', async () => {
    const [a, b] = await cluster(2);
    const local = await connect(a!);
    const remote = await connect(b!);
    const gotLocal = record<Buffer>(local, 'big');
    const gotRemote = record<Buffer>(remote, 'big');
    const rejected: string[] = [];
    a!.factory.events.on('rejected', (e) => rejected.push(e.code));
    a!.io.emit('big', Buffer.alloc(16 * 1024 * 1024 - 1024, 1)); // just under 16 MiB: its change event would not fit
    await waitFor('the local client got it anyway', () => gotLocal.length === 1);
    expect(rejected).toEqual(['PAYLOAD_TOO_LARGE']);
    const fits = Buffer.alloc(DEFAULT_MAX_DOCUMENT_BYTES - 4096, 2); // the largest that fits, envelope included
    a!.io.emit('big', fits);
    await waitFor('the remote client got the one that fits', () => gotRemote.length === 1, 20_000);
    expect(gotRemote[0]!.byteLength).toBe(fits.length);
    a!.io.emit('big', Buffer.from([7]));
    await waitFor('a small one after it', () => gotRemote.length === 2);
    expect(gotLocal.map((b) => b.byteLength)).toEqual([16 * 1024 * 1024 - 1024, fits.length, 1]);
  }, 40_000);

  it('4. is a ClusterAdapter: shutdown is announced with ADAPTER_CLOSE', async () => {
    expect(MongoAdapter.prototype).toBeInstanceOf(ClusterAdapterWithHeartbeat);
    // With a one-minute heartbeat timeout, only ADAPTER_CLOSE can explain a quick drop of the count.
    const [a, b, c] = await cluster(3, { adapter: { heartbeatTimeout: 60_000 } });
    await c!.close();
    await waitFor(
      'the others count two nodes',
      async () => (await a!.adapter().serverCount()) === 2 && (await b!.adapter().serverCount()) === 2,
    );
  });

  it('5. stops waiting for a node that leaves mid-request; requests answer under load', async () => {
    const [a, b, c] = await cluster(3, { adapter: { heartbeatTimeout: 60_000 } });
    b!.io.on('ask', (ack: (v: string) => void) => ack('from-b'));
    c!.io.on('ask', () => setImmediate(() => void c!.close()));
    // The base timeout is 5 s and rejects; an answer without error means node c stopped being waited for.
    const answers = await a!.io.serverSideEmitWithAck('ask');
    expect(answers).toEqual(['from-b']);

    const clients = [await connect(a!), await connect(b!)];
    for (let i = 0; i < 2000; i++) b!.io.emit('flood', i);
    const sockets = await a!.io.timeout(4000).fetchSockets();
    expect(sockets.map((s) => s.id).sort()).toEqual(clients.map((cl) => cl.id).sort());
  });

  faultIt('6. a node that cannot hear the cluster stops claiming to be alive, and rejoins when it can', async () => {
    const [a, b, c] = await cluster(3);
    mongo!.standIn!.faults.failCommands({
      commands: ['getMore', 'aggregate'],
      times: Number.POSITIVE_INFINITY,
      code: 8000,
      errorLabels: [],
      appName: 'node-2',
    });
    await waitFor('node c reports itself not ready', () => !c!.adapter().health().ready);
    await waitFor(
      'the others stopped counting node c',
      async () => (await a!.adapter().serverCount()) === 2 && (await b!.adapter().serverCount()) === 2,
    );
    expect(c!.adapter().health().hearing).toBe(false);
    const sockets = await a!.io.timeout(3000).fetchSockets();
    expect(sockets).toEqual([]);
    mongo!.standIn!.faults.clearFailCommands();
    await waitFor('node c hears again', () => c!.adapter().health().ready);
    await waitFor('everyone counts three nodes', async () => {
      for (const node of [a!, b!, c!]) if ((await node.adapter().serverCount()) !== 3) return false;
      return true;
    });
  });

  faultIt(
    '7. a MongoDB outage causes no unhandled rejection; everything queued is delivered after it',
    async () => {
      const unhandled: unknown[] = [];
      const onUnhandled = (reason: unknown) => unhandled.push(reason);
      process.on('unhandledRejection', onUnhandled);
      try {
        const [a, b] = await cluster(2);
        const remote = await connect(b!);
        const got = record<number>(remote, 'n');
        const restart = mongo!.standIn!.restart({ keepData: true, downtimeMs: 500 });
        for (let i = 0; i < 30; i++) {
          a!.io.emit('n', i);
          a!.io.serverSideEmit('ping', i);
          a!.io.socketsJoin('room');
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        await restart;
        await waitFor('all 30 after the outage', () => got.length >= 30, 15_000);
        expect(got).toEqual(Array.from({ length: 30 }, (_, i) => i));
        expect(unhandled).toEqual([]);
      } finally {
        process.off('unhandledRejection', onUnhandled);
      }
    },
    30_000,
  );

  it('9. responses reach only their requester (filtered by MongoDB) and publishes are batched', async () => {
    const [a, b, c] = await cluster(3);
    await Promise.all([connect(a!), connect(b!), connect(c!)]);
    const watch = (uid: string) => {
      const stream = c!.collection.watch(feedPipeline(uid), { maxAwaitTimeMS: 50 });
      const types: number[] = [];
      stream.on('change', (e) => types.push((e as unknown as { fullDocument: { type: number } }).fullDocument.type));
      return { stream, types };
    };
    const forA = watch(a!.adapter().health().node);
    const forC = watch(c!.adapter().health().node);
    await new Promise((resolve) => setTimeout(resolve, 300)); // both streams positioned
    for (let i = 0; i < 10; i++) await a!.io.fetchSockets();
    const FETCH_SOCKETS_RESPONSE = 8;
    await waitFor(
      'a sees the 20 responses addressed to it',
      () => forA.types.filter((t) => t === FETCH_SOCKETS_RESPONSE).length === 20,
    );
    expect(forC.types.filter((t) => t === FETCH_SOCKETS_RESPONSE)).toEqual([]);
    await forA.stream.close();
    await forC.stream.close();

    if (onStandIn) {
      const inserts = () => mongo!.standIn!.counters.commandsByName.insert ?? 0;
      const before = inserts();
      for (let i = 0; i < 200; i++) a!.io.emit('batched', i);
      await waitFor('all written', () => a!.adapter().health().outbox.docs === 0);
      expect(inserts() - before).toBeLessThan(20);
    }
  });

  it('10. keeps emission order, broadcasts and private packets alike, with recovery on', async () => {
    const [a, b] = await cluster(2, { server: { connectionStateRecovery: {} } });
    const local = await connect(a!);
    const remote = await connect(b!);
    const gotLocal = record<string>(local, 'o');
    const gotRemote = record<string>(remote, 'o');
    const socket = a!.io.sockets.sockets.get(local.id!)!;
    for (let i = 0; i < 50; i++) {
      a!.io.emit('o', `b${i}`);
      socket.emit('o', `p${i}`);
    }
    await waitFor('100 locally and 50 remotely', () => gotLocal.length === 100 && gotRemote.length === 50);
    expect(gotLocal).toEqual(Array.from({ length: 50 }, (_, i) => [`b${i}`, `p${i}`]).flat());
    expect(gotRemote).toEqual(Array.from({ length: 50 }, (_, i) => `b${i}`));
  });

  it('11. takes mongodb as a peer dependency and recognises errors by code, never instanceof', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as Record<
      string,
      Record<string, string> | undefined
    >;
    expect(pkg.peerDependencies?.mongodb).toBeDefined();
    expect(pkg.peerDependencies?.['socket.io-adapter']).toBeDefined();
    expect(pkg.dependencies?.mongodb).toBeUndefined();
    const srcDir = new URL('../src/', import.meta.url);
    for (const file of readdirSync(srcDir)) {
      const source = readFileSync(new URL(file, srcDir), 'utf8');
      expect(source, file).not.toMatch(/instanceof\s+Mongo|instanceof\s+(Binary|Timestamp|ObjectId)/);
    }
  });

  it("12. TTL deletes, sessions and other nodes' traffic never reach a node's change stream", async () => {
    const [a] = await cluster(1);
    const uid = a!.adapter().health().node;
    const stream = a!.collection.watch(feedPipeline(uid), { maxAwaitTimeMS: 50 });
    const seen: Array<{ op: string; kind: unknown; to: unknown; origin: unknown }> = [];
    stream.on('change', (e) => {
      const doc = (e as unknown as { fullDocument?: { kind?: unknown; to?: unknown; origin?: unknown } }).fullDocument;
      seen.push({ op: e.operationType, kind: doc?.kind, to: doc?.to, origin: doc?.origin });
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    await a!.collection.insertOne({
      kind: 'message',
      v: 1,
      origin: 'someone',
      seq: 1,
      uid: 'someone',
      nsp: '/',
      type: 2,
      to: '',
      echo: false,
      recoverable: false,
      createdAt: new Date(0),
    });
    await a!.collection.insertOne({
      kind: 'message',
      v: 1,
      origin: 'x',
      seq: 1,
      uid: 'x',
      nsp: '/',
      type: 8,
      to: 'another-node',
      echo: false,
      recoverable: false,
      createdAt: new Date(),
    });
    await a!.collection.insertOne({ kind: 'session', pid: 'p', expiresAt: new Date(0), createdAt: new Date() });
    await a!.collection.deleteMany({ origin: 'someone' });
    if (onStandIn)
      await waitFor(
        'the TTL monitor removed the expired session',
        async () => (await a!.collection.countDocuments({ kind: 'session', pid: 'p' })) === 0,
      );
    await a!.collection.insertOne({
      kind: 'message',
      v: 1,
      origin: 'sentinel',
      seq: 1,
      uid: 'sentinel',
      nsp: '/',
      type: 2,
      to: '',
      echo: false,
      recoverable: false,
      createdAt: new Date(),
    });
    await waitFor('the sentinel arrived', () => seen.some((s) => s.origin === 'sentinel'));
    expect(seen.some((s) => s.origin === 'someone')).toBe(true);
    await stream.close();
    expect(
      seen.every(
        (s) => s.op === 'insert' && (s.to === '' || s.to === uid) && (s.kind === 'message' || s.kind === 'probe'),
      ),
    ).toBe(true);
  });
});
