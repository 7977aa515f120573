import { MongoClient, MongoWriteConcernError, type Document } from 'mongodb';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  clientOptions,
  collectEvents,
  describeSet,
  directClient,
  insertedNumbers,
  openStream,
  openTarget,
  printTargetNotice,
  targetKinds,
  waitFor,
  type Target,
} from './support.js';

beforeAll(() => printTargetNotice());

/**
 * Write concern as mongod applies it (https://www.mongodb.com/docs/manual/reference/write-concern/): the write
 * is applied, then the reply waits for enough members; what cannot be met is a `writeConcernError` on a reply
 * whose write stayed applied (retryable-writes spec tests, insertOne-serverErrors.yml: "The write was still
 * applied"). The driver turns such a reply into a MongoWriteConcernError.
 */
describe.each(targetKinds)('write concern (%s)', (kind) => {
  const faultTest = it.skipIf(kind === 'real');
  let target: Target;
  const extra: MongoClient[] = [];
  afterEach(async () => {
    for (const client of extra.splice(0)) await client.close(true);
    await target?.close();
  });

  const direct = (address: string) => {
    const client = directClient(address);
    extra.push(client);
    return client;
  };

  async function failure(promise: Promise<unknown>): Promise<MongoWriteConcernError> {
    const err = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(MongoWriteConcernError);
    return err as MongoWriteConcernError;
  }

  it('w greater than the number of members: the write is applied, the reply carries UnsatisfiableWriteConcern (100)', async () => {
    // driver-bulk-update.rst: "Starting in MongoDB 3.0, the writeConcernError code is 100 and the message is
    // 'Not enough data-bearing nodes'".
    target = await openTarget(kind, { members: 3 });
    const { hosts } = await describeSet(target.client);
    const coll = target.client.db(target.dbName).collection('wc');
    const err = await failure(coll.insertOne({ _id: 1 as never }, { writeConcern: { w: hosts.length + 1 } }));
    expect(err.result.writeConcernError).toMatchObject({
      code: 100,
      codeName: 'UnsatisfiableWriteConcern',
      errmsg: 'Not enough data-bearing nodes',
    });
    expect(err.hasErrorLabel('RetryableWriteError')).toBe(false);
    expect(await coll.countDocuments({ _id: 1 as never })).toBe(1);
  });

  it('an unknown tag set: UnknownReplWriteConcern (79), the write applied', async () => {
    target = await openTarget(kind, { members: 3 });
    const coll = target.client.db(target.dbName).collection('wc');
    // A tag-set name (the driver's type for w knows only numbers and 'majority').
    const err = await failure(coll.insertOne({ _id: 1 as never }, { writeConcern: { w: 'nowhere' as never } }));
    expect(err.code).toBe(79);
    expect(await coll.countDocuments()).toBe(1);
  });

  it('w: 0 is unacknowledged (the driver sends moreToCome); the write is applied', async () => {
    target = await openTarget(kind, { members: 3 });
    const coll = target.client.db(target.dbName).collection('wc');
    const result = await coll.insertOne({ _id: 1 as never }, { writeConcern: { w: 0 } });
    expect(result.acknowledged).toBe(false);
    await waitFor('the unacknowledged write', async () => (await coll.countDocuments()) === 1);
  });

  it('j: true and w: majority are met', async () => {
    target = await openTarget(kind, { members: 3 });
    const coll = target.client.db(target.dbName).collection('wc');
    const result = await coll.insertOne({ _id: 1 as never }, { writeConcern: { w: 'majority', j: true } });
    expect(result.acknowledged).toBe(true);
  });

  faultTest(
    'wtimeout: the write is applied and the reply carries WriteConcernFailed (64) with errInfo.wtimeout, not labelled retryable',
    async () => {
      target = await openTarget(kind, { members: 3 });
      const mongo = target.standIn!;
      mongo.faults.setReplicationLag(60_000);
      const coll = target.client.db(target.dbName).collection('wc');
      const err = await failure(
        coll.insertOne({ _id: 1 as never }, { writeConcern: { w: 'majority', wtimeout: 100 } }),
      );
      expect(err.result.writeConcernError).toMatchObject({
        code: 64,
        codeName: 'WriteConcernFailed',
        errmsg: 'waiting for replication timed out',
        errInfo: { wtimeout: true, writeConcern: { w: 'majority', wtimeout: 100, provenance: 'clientSupplied' } },
      });
      // retryable-writes spec tests: "InsertOne fails after WriteConcernError WriteConcernTimeout" — not retried.
      expect(err.hasErrorLabel('RetryableWriteError')).toBe(false);
      expect(await coll.countDocuments({ _id: 1 as never })).toBe(1);
      expect(mongo.counters).toMatchObject({ writeConcernErrors: 1, writeConcernTimeouts: 1 });
    },
  );

  faultTest('w: majority (the default) returns only once a majority has the write', async () => {
    target = await openTarget(kind, { members: 3 });
    const mongo = target.standIn!;
    mongo.faults.setReplicationLag(300, 1);
    mongo.faults.setReplicationLag(60_000, 2);
    const coll = target.client.db(target.dbName).collection('wc');
    await coll.insertOne({ _id: 1 as never });
    const has = async (i: number) =>
      (await direct(mongo.members[i]!.address).db(target.dbName).collection('wc').countDocuments()) === 1;
    expect([await has(0), await has(1), await has(2)]).toEqual([true, true, false]);
  });

  faultTest(
    'w: N counts members that applied the write: w: 2 is met by one secondary, w: 3 times out behind a lagging one',
    async () => {
      target = await openTarget(kind, { members: 3 });
      const mongo = target.standIn!;
      mongo.faults.setReplicationLag(60_000, 2);
      const coll = target.client.db(target.dbName).collection('wc');
      await coll.insertOne({ _id: 1 as never }, { writeConcern: { w: 2 } });
      const err = await failure(coll.insertOne({ _id: 2 as never }, { writeConcern: { w: 3, wtimeout: 100 } }));
      expect(err.code).toBe(64);
      expect(await coll.countDocuments()).toBe(2);
    },
  );

  faultTest('change streams show a write only once it is majority-committed', async () => {
    // "Change streams only notify on data changes that have persisted to a majority of data-bearing members"
    // (https://www.mongodb.com/docs/manual/changeStreams/).
    target = await openTarget(kind, { members: 3 });
    const mongo = target.standIn!;
    const coll = target.client.db(target.dbName).collection('wc');
    const stream = await openStream(() => coll.watch([], { maxAwaitTimeMS: 50 }));
    mongo.faults.setReplicationLag(60_000);
    await coll.insertOne({ n: 1 }, { writeConcern: { w: 1 } });
    expect(await coll.countDocuments()).toBe(1);
    for (let i = 0; i < 3; i++) expect(await stream.tryNext()).toBeNull();
    mongo.faults.setReplicationLag(0, 1);
    expect(insertedNumbers(await collectEvents(stream, 1))).toEqual([1]);
    await stream.close();
  });

  faultTest(
    'a causally consistent read on a lagging secondary waits until the secondary has the write (afterClusterTime)',
    async () => {
      // https://www.mongodb.com/docs/manual/core/read-isolation-consistency-recency/#causal-consistency
      target = await openTarget(kind, { members: 3 });
      const mongo = target.standIn!;
      mongo.faults.setReplicationLag(300);
      const client = new MongoClient(mongo.uri, { ...clientOptions, readPreference: 'secondary' });
      extra.push(client);
      const coll = client.db(target.dbName).collection('wc');
      const session = client.startSession({ causalConsistency: true });
      try {
        await coll.insertOne({ n: 1 }, { session, writeConcern: { w: 1 } });
        expect(await coll.countDocuments({}, { session })).toBe(1);
      } finally {
        await session.endSession();
      }
    },
  );

  faultTest(
    'an unacknowledged write sent to a secondary closes the connection, since no reply can refuse it',
    async () => {
      target = await openTarget(kind, { members: 3 });
      const mongo = target.standIn!;
      const client = direct(mongo.members[1]!.address);
      await client.connect();
      const dropped = mongo.counters.connectionsDropped;
      await client
        .db(target.dbName)
        .collection('wc')
        .insertOne({ n: 1 }, { writeConcern: { w: 0 } });
      await waitFor('the connection to be closed', () => mongo.counters.connectionsDropped > dropped);
      expect(await target.client.db(target.dbName).collection('wc').countDocuments()).toBe(0);
    },
  );

  faultTest('a malformed write concern is refused before the write runs', async () => {
    target = await openTarget(kind, { members: 3 });
    const db = target.client.db(target.dbName);
    const reply = await db
      .command({ insert: 'wc', documents: [{ n: 1 }], writeConcern: { w: -1 } })
      .catch((e: Document) => e);
    expect(reply).toMatchObject({ code: 9 });
    expect(await db.collection('wc').countDocuments()).toBe(0);
  });
});
