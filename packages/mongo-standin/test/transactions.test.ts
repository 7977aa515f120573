import { MongoServerError, type Db } from 'mongodb';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { collectEvents, openStream, openTarget, printTargetNotice, targetKinds, type Target } from './support.js';

beforeAll(printTargetNotice);

type Doc = { _id?: number | string; [field: string]: unknown };

/**
 * Multi-document transactions (https://www.mongodb.com/docs/manual/core/transactions/ and the transactions
 * spec tests: commit.yml, abort.yml, isolation.yml, errors.yml, error-labels.yml).
 */
describe.each(targetKinds)('transactions through the official driver (%s)', (kind) => {
  let target: Target;
  afterEach(async () => {
    await target?.close();
  });
  const open = async (): Promise<Db> => {
    target = await openTarget(kind);
    const db = target.client.db(target.dbName);
    await db.createCollection('accounts');
    return db;
  };

  it('commits atomically: nothing is visible outside before the commit, everything after', async () => {
    const db = await open();
    const accounts = db.collection<{ _id: string; balance: number }>('accounts');
    await accounts.insertMany([
      { _id: 'a', balance: 100 },
      { _id: 'b', balance: 0 },
    ]);
    const session = target.client.startSession();
    session.startTransaction();
    await accounts.updateOne({ _id: 'a' }, { $inc: { balance: -30 } }, { session });
    await accounts.updateOne({ _id: 'b' }, { $inc: { balance: 30 } }, { session });
    // Inside, the transaction sees its own writes; outside, nobody does yet.
    expect(await accounts.findOne({ _id: 'a' }, { session })).toEqual({ _id: 'a', balance: 70 });
    expect(await accounts.find().sort({ _id: 1 }).toArray()).toEqual([
      { _id: 'a', balance: 100 },
      { _id: 'b', balance: 0 },
    ]);
    await session.commitTransaction();
    expect(await accounts.find().sort({ _id: 1 }).toArray()).toEqual([
      { _id: 'a', balance: 70 },
      { _id: 'b', balance: 30 },
    ]);
    await session.endSession();
  });

  it('aborts: the writes vanish, and a statement after the abort fails with NoSuchTransaction (TransientTransactionError)', async () => {
    const db = await open();
    const accounts = db.collection<Doc>('accounts');
    const session = target.client.startSession();
    session.startTransaction();
    await accounts.insertOne({ _id: 'x' }, { session });
    await session.abortTransaction();
    expect(await accounts.countDocuments()).toBe(0);
    // A duplicate key inside a transaction aborts it (abort.yml "abort ignores TransactionAborted").
    session.startTransaction();
    await accounts.insertOne({ _id: 'y' }, { session });
    await expect(accounts.insertOne({ _id: 'y' }, { session })).rejects.toMatchObject({ code: 11000 });
    const error = await accounts.insertOne({ _id: 'z' }, { session }).catch((e: unknown) => e);
    expect(error).toMatchObject({ codeName: 'NoSuchTransaction' });
    expect((error as MongoServerError).hasErrorLabel('TransientTransactionError')).toBe(true);
    await session.abortTransaction();
    await session.endSession();
  });

  it('a second transaction writing the same document gets WriteConflict (TransientTransactionError), as errors.yml pins it', async () => {
    const db = await open();
    const accounts = db.collection<Doc>('accounts');
    const first = target.client.startSession();
    const second = target.client.startSession();
    first.startTransaction();
    second.startTransaction();
    await accounts.insertOne({ _id: 1 }, { session: first });
    const error = await accounts.insertOne({ _id: 1 }, { session: second }).catch((e: unknown) => e);
    expect(error).toMatchObject({ codeName: 'WriteConflict' });
    expect((error as MongoServerError).hasErrorLabel('TransientTransactionError')).toBe(true);
    await first.commitTransaction();
    await expect(second.commitTransaction()).rejects.toMatchObject({ codeName: 'NoSuchTransaction' });
    expect(await accounts.countDocuments()).toBe(1);
    await first.endSession();
    await second.endSession();
  });

  it('withTransaction retries on a transient error; the committed writes reach change streams with lsid and txnNumber', async () => {
    const db = await open();
    const accounts = db.collection<Doc>('accounts');
    const stream = await openStream(() => accounts.watch([], { maxAwaitTimeMS: 50 }));
    const session = target.client.startSession();
    await session.withTransaction(async () => {
      await accounts.insertOne({ _id: 1, n: 1 }, { session });
      await accounts.insertOne({ _id: 2, n: 2 }, { session });
    });
    const events = await collectEvents(stream, 2);
    expect(events.map((e) => e.fullDocument.n)).toEqual([1, 2]);
    for (const event of events) {
      expect(event.lsid).toBeDefined();
      expect(Number(event.txnNumber)).toBeGreaterThan(0);
    }
    await session.endSession();
    await stream.close();
  });

  // Needs failCommand, which a real server has only with enableTestCommands.
  it.skipIf(kind === 'real')(
    'labels a commit WriteConflict TransientTransactionError: withTransaction runs again',
    async () => {
      // transactions-convenient-api/commit-transienttransactionerror.yml
      const db = await open();
      const accounts = db.collection<Doc>('accounts');
      const admin = target.client.db('admin');
      const session = target.client.startSession();
      await admin.command({
        configureFailPoint: 'failCommand',
        mode: { times: 2 },
        data: { failCommands: ['commitTransaction'], errorCode: 112 },
      });
      let attempts = 0;
      await session.withTransaction(async () => {
        attempts += 1;
        await accounts.insertOne({ _id: 'retried' }, { session });
      });
      expect(attempts).toBe(3); // the commit's TransientTransactionError made withTransaction run it again
      expect(await accounts.countDocuments({ _id: 'retried' })).toBe(1);
      await session.endSession();
    },
  );

  it('refuses what transactions cannot run: count, a write concern on a statement', async () => {
    const db = await open();
    const accounts = db.collection<Doc>('accounts');
    const session = target.client.startSession();
    session.startTransaction();
    await expect(db.command({ count: 'accounts' }, { session })).rejects.toMatchObject({ code: 263 }); // OperationNotSupportedInTransaction
    await session.abortTransaction().catch(() => undefined);
    session.startTransaction();
    await accounts.insertOne({ _id: 'w' }, { session });
    await session.commitTransaction();
    await session.commitTransaction(); // a commit retried after it succeeded succeeds again
    expect(await accounts.countDocuments({ _id: 'w' })).toBe(1);
    await session.endSession();
  });
});
