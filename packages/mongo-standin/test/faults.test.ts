import { MongoClient, MongoServerError, type ChangeStream, type Collection, type Document } from 'mongodb';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MongoStandIn } from '../src/index.js';
import {
  clientOptions,
  collectEvents,
  insertedNumbers,
  openStream,
  openTarget,
  printTargetNotice,
  range,
  REAL_URI,
  targetKinds,
  waitFor,
  type Target,
} from './support.js';

beforeAll(() => {
  printTargetNotice();
  if (REAL_URI)
    console.warn(
      '[mongo-standin] fault-injection tests are SKIPPED against MONGODB_URI: they need the stand-in handle.',
    );
});

const AWAIT = { maxAwaitTimeMS: 50 };

describe.each(targetKinds)('faults, and what the official driver does about them (%s)', (kind) => {
  const faultTest = it.skipIf(kind === 'real');
  let target: Target;
  let extraClients: MongoClient[] = [];
  afterEach(async () => {
    for (const client of extraClients) await client.close(true);
    extraClients = [];
    await target?.close();
  });

  async function setup(options = {}): Promise<{ mongo: MongoStandIn; coll: Collection; stream: ChangeStream }> {
    target = await openTarget(kind, options);
    const coll = target.client.db(target.dbName).collection('numbers');
    const stream = await openStream(() => coll.watch([], AWAIT));
    return { mongo: target.standIn!, coll, stream };
  }

  async function insertNumbers(coll: Collection, from: number, to: number): Promise<void> {
    for (const n of range(from, to)) await coll.insertOne({ n });
  }

  faultTest('dropConnections(): the stream resumes and the writes retry, nothing lost or repeated', async () => {
    const { mongo, coll, stream } = await setup();
    await insertNumbers(coll, 1, 3);
    expect(insertedNumbers(await collectEvents(stream, 3))).toEqual([1, 2, 3]);
    const pending = collectEvents(stream, 3); // keeps a getMore in flight
    const getMores = mongo.counters.commandsByName.getMore ?? 0;
    await waitFor('a getMore in flight', () => (mongo.counters.commandsByName.getMore ?? 0) > getMores);
    expect(mongo.faults.dropConnections()).toBeGreaterThan(0);
    await insertNumbers(coll, 4, 6);
    expect(insertedNumbers(await pending)).toEqual([4, 5, 6]);
    expect(mongo.counters.connectionsDropped).toBeGreaterThan(0);
    expect(await coll.countDocuments()).toBe(6);
    await stream.close();
  });

  faultTest(
    // mongod 4.2+ keeps connections and cursors across a step-down and only refuses writes
    // (https://www.mongodb.com/docs/manual/reference/command/replSetStepDown/#client-connections; the
    // connections-survive-step-down spec's "getMore Iteration"): the stream carries on, it does not resume.
    'stepDown(ms): retryable writes are retried, the change stream carries on without resuming, hello reports a secondary meanwhile',
    async () => {
      const { mongo, coll, stream } = await setup();
      await insertNumbers(coll, 1, 2);
      expect(insertedNumbers(await collectEvents(stream, 2))).toEqual([1, 2]);
      const direct = new MongoClient(`${mongo.uri}&directConnection=true`, clientOptions);
      extraClients.push(direct);
      const resumedBefore = mongo.counters.changeStreamsResumed;

      mongo.faults.stepDown(700);
      expect(mongo.faults.steppedDown).toBe(true);
      const hello = await direct.db('admin').command({ hello: 1 });
      expect(hello).toMatchObject({ isWritablePrimary: false, secondary: true });
      const pending = collectEvents(stream, 3);
      await insertNumbers(coll, 3, 5); // the first attempt fails with 10107 + RetryableWriteError, the retry succeeds
      expect(insertedNumbers(await pending)).toEqual([3, 4, 5]);

      expect(mongo.counters.stepDowns).toBe(1);
      expect(mongo.counters.rejectedWhileSteppedDown).toBeGreaterThan(0);
      expect(mongo.counters.changeStreamsResumed).toBe(resumedBefore);
      await waitFor(
        'the node to be primary again',
        async () => (await direct.db('admin').command({ hello: 1 })).isWritablePrimary === true,
      );
      expect(await coll.countDocuments()).toBe(5);
      await stream.close();
    },
  );

  faultTest(
    'stepDown(ms): a write that is not retryable (updateMany) surfaces NotWritablePrimary without RetryableWriteError',
    async () => {
      target = await openTarget(kind);
      const mongo = target.standIn!;
      // A client with the default 10 s heartbeat still believes in the primary when the write goes out.
      const client = new MongoClient(mongo.uri, { serverSelectionTimeoutMS: 5_000 });
      extraClients.push(client);
      const coll = client.db(target.dbName).collection('numbers');
      await coll.insertOne({ n: 1 });
      mongo.faults.stepDown(1_000);
      const err = (await coll.updateMany({}, { $set: { x: 1 } }).catch((e: unknown) => e)) as MongoServerError;
      expect(err).toBeInstanceOf(MongoServerError);
      expect(err.code).toBe(10107);
      expect(err.hasErrorLabel('RetryableWriteError')).toBe(false);
    },
  );

  faultTest(
    'failCommands(getMore, resumable code): the driver resumes the stream, nothing lost or repeated',
    async () => {
      const { mongo, coll, stream } = await setup();
      await insertNumbers(coll, 1, 2);
      expect(insertedNumbers(await collectEvents(stream, 2))).toEqual([1, 2]);
      mongo.faults.failCommands({ commands: ['getMore'], times: 2, code: 91 }); // ShutdownInProgress, labelled as mongod would
      await insertNumbers(coll, 3, 5);
      // getMore #1 fails; the resume's aggregate returns 3..5 in its first batch.
      expect(insertedNumbers(await collectEvents(stream, 3))).toEqual([3, 4, 5]);
      expect(mongo.counters.commandsFailed).toBe(1);
      await insertNumbers(coll, 6, 7);
      // getMore #2 fails too; the second resume starts after 5.
      expect(insertedNumbers(await collectEvents(stream, 2))).toEqual([6, 7]);
      expect(mongo.counters.commandsFailed).toBe(2);
      expect(mongo.counters.changeStreamsResumed).toBe(2);
      await stream.close();
    },
  );

  faultTest(
    'failCommands(getMore) with explicit labels: ResumableChangeStreamError resumes, no label surfaces the error',
    async () => {
      const { mongo, coll, stream } = await setup();
      mongo.faults.failCommands({ commands: ['getMore'], code: 280, errorLabels: ['ResumableChangeStreamError'] });
      await insertNumbers(coll, 1, 2);
      expect(insertedNumbers(await collectEvents(stream, 2))).toEqual([1, 2]);
      expect(mongo.counters.commandsFailed).toBe(1);

      mongo.faults.failCommands({ commands: ['getMore'], code: 10107, errorLabels: [] });
      await expect(collectEvents(stream, 1)).rejects.toMatchObject({ code: 10107 });
      await stream.close();
    },
  );

  faultTest(
    'failCommands(insert): RetryableWriteError is retried once; a second failure surfaces; closeConnection is a network error',
    async () => {
      const { mongo, coll, stream } = await setup();
      mongo.faults.failCommands({ commands: ['insert'], code: 91 });
      await coll.insertOne({ n: 1 });
      expect(mongo.counters.commandsFailed).toBe(1);

      mongo.faults.failCommands({ commands: ['insert'], times: 2, code: 189, errmsg: 'stepping down' });
      const err = (await coll.insertOne({ n: 99 }).catch((e: unknown) => e)) as MongoServerError;
      expect(err.code).toBe(189);
      expect(err.hasErrorLabel('RetryableWriteError')).toBe(true);

      mongo.faults.failCommands({ commands: ['insert'], closeConnection: true });
      await coll.insertOne({ n: 2 });
      expect(mongo.counters.commandsFailed).toBe(4);
      expect(insertedNumbers(await collectEvents(stream, 2))).toEqual([1, 2]);
      expect(await coll.countDocuments()).toBe(2);
      await stream.close();
    },
  );

  faultTest(
    'configureFailPoint (the command drivers use in their spec tests) fails commands the same way',
    async () => {
      const { mongo, coll, stream } = await setup();
      const admin = target.client.db('admin');
      await admin.command({
        configureFailPoint: 'failCommand',
        mode: { times: 1 },
        data: { failCommands: ['find'], errorCode: 2 },
      });
      await expect(coll.findOne({})).rejects.toMatchObject({ code: 2 });
      expect(await coll.findOne({})).toBeNull();
      await admin.command({
        configureFailPoint: 'failCommand',
        mode: 'alwaysOn',
        data: { failCommands: ['count'], errorCode: 8 },
      });
      await expect(coll.estimatedDocumentCount()).rejects.toMatchObject({ code: 8 });
      await admin.command({ configureFailPoint: 'failCommand', mode: 'off' });
      expect(await coll.estimatedDocumentCount()).toBe(0);
      expect(mongo.counters.commandsFailed).toBe(2);
      await stream.close();
    },
  );

  faultTest('loseHistory(): resuming from an older token fails with ChangeStreamHistoryLost (286)', async () => {
    const { mongo, coll, stream } = await setup();
    await insertNumbers(coll, 1, 2);
    const events = await collectEvents(stream, 2);
    await stream.close();
    await insertNumbers(coll, 3, 4);
    mongo.faults.loseHistory();
    const resumed = coll.watch([], { ...AWAIT, resumeAfter: events[0]!._id });
    const err = (await resumed.tryNext().catch((e: unknown) => e)) as MongoServerError;
    expect(err).toBeInstanceOf(MongoServerError);
    expect(err.code).toBe(286);
    expect(err.codeName).toBe('ChangeStreamHistoryLost');
    await resumed.close();
    expect(mongo.counters.historyLosses).toBe(1);
    expect(mongo.counters.historyLost).toBeGreaterThan(0);
    const fresh = await openStream(() => coll.watch([], AWAIT));
    await insertNumbers(coll, 5, 5);
    expect(insertedNumbers(await collectEvents(fresh, 1))).toEqual([5]);
    await fresh.close();
  });

  faultTest(
    'a small oplog (oplogSize) expires old tokens for real, for resumes and for a lagging open stream',
    async () => {
      const { mongo, coll, stream } = await setup({ oplogSize: 5 });
      await coll.insertMany(range(1, 10).map((n) => ({ n }))); // one command: the stream cannot read in between
      await expect(collectEvents(stream, 1)).rejects.toMatchObject({ code: 286 });
      await stream.close();

      const again = await openStream(() => coll.watch([], AWAIT));
      await insertNumbers(coll, 11, 11);
      const [event] = await collectEvents(again, 1);
      await again.close();
      await coll.insertMany(range(12, 20).map((n) => ({ n })));
      const resumed = coll.watch([], { ...AWAIT, resumeAfter: event!._id });
      await expect(resumed.tryNext()).rejects.toMatchObject({ code: 286 });
      await resumed.close();
      expect(mongo.counters.historyLost).toBe(2);
    },
  );

  faultTest('setWriteLatency(ms): writes are applied and acknowledged late; counted', async () => {
    const { mongo, coll, stream } = await setup();
    mongo.faults.setWriteLatency(150);
    await insertNumbers(coll, 1, 2);
    expect(mongo.counters.writesDelayed).toBe(2);
    mongo.faults.setWriteLatency(0);
    await insertNumbers(coll, 3, 3);
    expect(mongo.counters.writesDelayed).toBe(2);
    expect(insertedNumbers(await collectEvents(stream, 3))).toEqual([1, 2, 3]);
    await stream.close();
  });

  faultTest(
    'setEventDelay(ms): writes are visible to reads at once and to change streams only after the delay',
    async () => {
      const { mongo, coll, stream } = await setup();
      mongo.faults.setEventDelay(60_000);
      await insertNumbers(coll, 1, 3);
      expect(await coll.countDocuments()).toBe(3);
      const tokenBefore = (stream.resumeToken as Document)._data;
      expect(await stream.tryNext()).toBeNull();
      expect(await stream.tryNext()).toBeNull();
      expect((stream.resumeToken as Document)._data).toBe(tokenBefore); // nothing skipped while invisible
      mongo.faults.setEventDelay(100);
      await insertNumbers(coll, 4, 4);
      expect(insertedNumbers(await collectEvents(stream, 4))).toEqual([1, 2, 3, 4]);
      mongo.faults.setEventDelay(0);
      await stream.close();
    },
  );

  faultTest(
    'pauseChangeEvents(): writes succeed, events wait, resumeChangeEvents() delivers them in order',
    async () => {
      const { mongo, coll, stream } = await setup();
      await insertNumbers(coll, 1, 1);
      expect(insertedNumbers(await collectEvents(stream, 1))).toEqual([1]);
      mongo.faults.pauseChangeEvents();
      await insertNumbers(coll, 2, 4);
      const tokenBefore = (stream.resumeToken as Document)._data;
      expect(await stream.tryNext()).toBeNull();
      expect(await stream.tryNext()).toBeNull();
      expect((stream.resumeToken as Document)._data).toBe(tokenBefore);
      expect(mongo.counters.changeEventPauses).toBe(1);
      const delivered = mongo.counters.eventsDelivered;
      mongo.faults.resumeChangeEvents();
      expect(insertedNumbers(await collectEvents(stream, 3))).toEqual([2, 3, 4]);
      expect(mongo.counters.eventsDelivered).toBe(delivered + 3);
      await stream.close();
    },
  );

  faultTest('restart({ keepData: true }): same port, data kept, the stream resumes where it was', async () => {
    const { mongo, coll, stream } = await setup();
    await insertNumbers(coll, 1, 3);
    expect(insertedNumbers(await collectEvents(stream, 3))).toEqual([1, 2, 3]);
    const port = mongo.port;
    await mongo.restart({ keepData: true, downtimeMs: 100 });
    expect(mongo.port).toBe(port);
    await insertNumbers(coll, 4, 6);
    expect(insertedNumbers(await collectEvents(stream, 3))).toEqual([4, 5, 6]);
    expect(await coll.countDocuments()).toBe(6);
    expect(mongo.counters.restarts).toBe(1);
    await stream.close();
  });

  faultTest('restart({ keepData: false }): data is gone and the old stream cannot resume (286)', async () => {
    const { mongo, coll, stream } = await setup();
    await insertNumbers(coll, 1, 2);
    expect(insertedNumbers(await collectEvents(stream, 2))).toEqual([1, 2]);
    await mongo.restart({ keepData: false });
    await expect(collectEvents(stream, 1)).rejects.toMatchObject({ code: 286 });
    await stream.close();
    expect(await coll.countDocuments()).toBe(0);
  });

  it('fails a change stream whose event exceeds 16 MiB with BSONObjectTooLarge (10334)', async () => {
    target = await openTarget(kind);
    const db = target.client.db(target.dbName);
    const coll = await db.createCollection('big', { changeStreamPreAndPostImages: { enabled: true } });
    await coll.insertOne({ _id: 1 as never, blob: 'x'.repeat(9 * 1024 * 1024) });
    const stream = await openStream(() =>
      coll.watch([], { ...AWAIT, fullDocument: 'updateLookup', fullDocumentBeforeChange: 'whenAvailable' }),
    );
    await coll.updateOne({ _id: 1 as never }, { $set: { touched: true } });
    await expect(collectEvents(stream, 1)).rejects.toMatchObject({ code: 10334 });
    await stream.close();
    if (target.standIn) expect(target.standIn.counters.eventsTooLarge).toBe(1);
  });
});
