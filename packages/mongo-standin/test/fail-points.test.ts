import { Long, MongoClient, MongoServerError, type Collection, type CommandStartedEvent } from 'mongodb';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  clientOptions,
  collectEvents,
  insertedNumbers,
  openStream,
  openTarget,
  printTargetNotice,
  targetKinds,
  type Target,
} from './support.js';

beforeAll(printTargetNotice);

type Doc = { _id?: number | string; [field: string]: unknown };

/**
 * mongod's fail points, driven by `configureFailPoint` as the drivers' specification tests drive them
 * (they need `enableTestCommands` on a real server). Sources: the failCommand wiki page
 * (https://github.com/mongodb/mongo/wiki/The-%22failCommand%22-fail-point), the change-streams spec tests
 * change-streams-resume-errorLabels.yml, and the retryable-writes spec tests (insertOne.yml,
 * insertOne-serverErrors.yml, bulkWrite.yml).
 */
describe.each(targetKinds)('fail points as mongod has them (%s)', (kind) => {
  let target: Target;
  let clients: MongoClient[] = [];
  afterEach(async () => {
    if (target) {
      for (const name of ['failCommand', 'failGetMoreAfterCursorCheckout', 'onPrimaryTransactionalWrite']) {
        await admin().command({ configureFailPoint: name, mode: 'off' });
      }
    }
    for (const client of clients) await client.close(true);
    clients = [];
    await target?.close();
  });

  const admin = () => target.client.db('admin');

  async function open(): Promise<Collection<Doc>> {
    target = await openTarget(kind);
    const coll = target.client.db(target.dbName).collection<Doc>('fp');
    await coll.insertOne({ _id: 0 });
    return coll;
  }

  /** A second client whose commands are recorded, to see what the driver sent. */
  async function observedClient(): Promise<{ client: MongoClient; started: CommandStartedEvent[] }> {
    const client = new MongoClient(REAL_OR_STANDIN(), { ...clientOptions, monitorCommands: true });
    clients.push(client);
    const started: CommandStartedEvent[] = [];
    client.on('commandStarted', (e) => started.push(e));
    await client.connect();
    return { client, started };
  }
  const REAL_OR_STANDIN = () => process.env.MONGODB_URI ?? target.standIn!.uri;

  it('failCommand on getMore gives no ResumableChangeStreamError: the driver does not resume', async () => {
    // change-streams-resume-errorLabels.yml: "change stream does not resume if error does not contain
    // ResumableChangeStreamError" — failCommand fails the getMore before its cursor is checked out.
    const coll = await open();
    const stream = await openStream(() => coll.watch([], { maxAwaitTimeMS: 50 }));
    await admin().command({
      configureFailPoint: 'failCommand',
      mode: { times: 1 },
      data: { failCommands: ['getMore'], errorCode: 6, closeConnection: false },
    });
    await coll.insertOne({ n: 1 });
    const error = await stream.next().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MongoServerError);
    expect((error as MongoServerError).code).toBe(6);
    expect((error as MongoServerError).errorLabels).toEqual([]);
    await stream.close();
  });

  it('failGetMoreAfterCursorCheckout: the error carries ResumableChangeStreamError and the driver resumes', async () => {
    // change-streams-resume-errorLabels.yml: "change stream resumes after HostUnreachable" (mongod 4.4+ labels
    // errors of a change stream's getMore once its cursor is checked out, SERVER-46091).
    const coll = await open();
    const { client, started } = await observedClient();
    const watched = client.db(target.dbName).collection<Doc>('fp');
    const stream = await openStream(() => watched.watch([], { maxAwaitTimeMS: 50 }));
    await admin().command({
      configureFailPoint: 'failGetMoreAfterCursorCheckout',
      mode: { times: 1 },
      data: { errorCode: 6, closeConnection: false },
    });
    await coll.insertMany([{ n: 1 }, { n: 2 }]);
    expect(insertedNumbers(await collectEvents(stream, 2))).toEqual([1, 2]);
    const aggregates = started.filter((e) => e.commandName === 'aggregate');
    expect(aggregates).toHaveLength(2);
    expect(aggregates[1]!.command.pipeline[0].$changeStream.resumeAfter).toBeDefined();
    await stream.close();
  });

  it('failCommand with errorLabels replaces the labels mongod would attach (an empty list: no retry)', async () => {
    // retryable-writes insertOne-errorLabels.yml: "InsertOne fails if server does not return RetryableWriteError".
    const coll = await open();
    await admin().command({
      configureFailPoint: 'failCommand',
      mode: { times: 1 },
      data: { failCommands: ['insert'], errorCode: 11600, errorLabels: [] },
    });
    const error = await coll.insertOne({ _id: 1 }).catch((e: unknown) => e);
    expect((error as MongoServerError).code).toBe(11600);
    // The driver adds its own ResetPool label to a state-change error; the server sent none.
    expect((error as MongoServerError).errorLabels).not.toContain('RetryableWriteError');
    expect(await coll.countDocuments({ _id: 1 })).toBe(0);
  });

  it('failCommand without errorLabels: a retryable code on a retryable write gets RetryableWriteError and is retried', async () => {
    // retryable-writes insertOne-serverErrors.yml: "InsertOne succeeds after ShutdownInProgress".
    const coll = await open();
    await admin().command({
      configureFailPoint: 'failCommand',
      mode: { times: 1 },
      data: { failCommands: ['insert'], errorCode: 91 },
    });
    await coll.insertOne({ _id: 1 });
    expect(await coll.countDocuments({ _id: 1 })).toBe(1);
  });

  it('failCommand writeConcernError: the write is applied, the retry answers from its record (one copy)', async () => {
    // retryable-writes insertOne-serverErrors.yml: "InsertOne succeeds after retryable writeConcernError".
    const coll = await open();
    const { client, started } = await observedClient();
    await admin().command({
      configureFailPoint: 'failCommand',
      mode: { times: 1 },
      data: { failCommands: ['insert'], writeConcernError: { code: 91, errmsg: 'Replication is being shut down' } },
    });
    await client.db(target.dbName).collection<Doc>('fp').insertOne({ _id: 1 });
    expect(started.filter((e) => e.commandName === 'insert')).toHaveLength(2);
    expect(await coll.find({ _id: 1 }).toArray()).toEqual([{ _id: 1 }]);
  });

  it('failCommand writeConcernError with a non-retryable code surfaces to the caller, the write applied', async () => {
    // retryable-writes insertOne-serverErrors.yml: "InsertOne fails after WriteConcernError WriteConcernTimeout".
    const coll = await open();
    await admin().command({
      configureFailPoint: 'failCommand',
      mode: { times: 1 },
      data: {
        failCommands: ['insert'],
        writeConcernError: { code: 64, errmsg: 'waiting for replication timed out', errInfo: { wtimeout: true } },
      },
    });
    const error = await coll.insertOne({ _id: 1 }).catch((e: unknown) => e);
    expect((error as MongoServerError).code).toBe(64);
    expect(await coll.countDocuments({ _id: 1 })).toBe(1);
  });

  it('onPrimaryTransactionalWrite closes the connection after the write commits: the retry does not apply it twice', async () => {
    // retryable-writes insertOne.yml: "InsertOne is committed on first attempt".
    const coll = await open();
    await admin().command({ configureFailPoint: 'onPrimaryTransactionalWrite', mode: { times: 1 } });
    await coll.insertOne({ _id: 1, x: 11 });
    expect(await coll.find().sort({ _id: 1 }).toArray()).toEqual([{ _id: 0 }, { _id: 1, x: 11 }]);
  });

  it('onPrimaryTransactionalWrite failBeforeCommitExceptionCode: a statement fails unapplied, its batch stops there', async () => {
    // mongod's jstests/replsets/retryable_writes_failover.js pattern: {skip: 1}, closeConnection: false — the
    // second statement fails with the code as a write error and is not applied; a retry applies only it.
    const coll = await open();
    await coll.insertMany([
      { _id: 'a', y: 0 },
      { _id: 'b', y: 0 },
    ]);
    await admin().command({
      configureFailPoint: 'onPrimaryTransactionalWrite',
      mode: { skip: 1 },
      data: { closeConnection: false, failBeforeCommitExceptionCode: 1 },
    });
    const session = target.client.startSession();
    const command = {
      update: 'fp',
      updates: [
        { q: { _id: 'a' }, u: { $inc: { y: 1 } } },
        { q: { _id: 'b' }, u: { $inc: { y: 1 } } },
      ],
      ordered: true,
      txnNumber: Long.fromNumber(7),
    };
    const db = target.client.db(target.dbName);
    const first = await db.command({ ...command }, { session });
    expect(first.nModified).toBe(1);
    expect(first.writeErrors).toHaveLength(1);
    expect(first.writeErrors[0]).toMatchObject({ index: 1, code: 1 });
    await admin().command({ configureFailPoint: 'onPrimaryTransactionalWrite', mode: 'off' });
    const retry = await db.command({ ...command }, { session });
    expect(retry.nModified).toBe(2);
    expect(retry.writeErrors).toBeUndefined();
    expect(await coll.find({ _id: { $in: ['a', 'b'] } }).toArray()).toEqual([
      { _id: 'a', y: 1 },
      { _id: 'b', y: 1 },
    ]);
    await session.endSession();
  });

  it('modes: skip lets the first matching commands through, activationProbability 0 never fires, count reports activations', async () => {
    await open();
    const db = target.client.db(target.dbName);
    await admin().command({
      configureFailPoint: 'failCommand',
      mode: { skip: 2 },
      data: { failCommands: ['ping'], errorCode: 2 },
    });
    await db.command({ ping: 1 });
    await db.command({ ping: 1 });
    await expect(db.command({ ping: 1 })).rejects.toMatchObject({ code: 2 });
    await expect(db.command({ ping: 1 })).rejects.toMatchObject({ code: 2 });
    const switched = await admin().command({
      configureFailPoint: 'failCommand',
      mode: { activationProbability: 0 },
      data: { failCommands: ['ping'], errorCode: 2 },
    });
    expect(switched.count).toBe(2);
    for (let i = 0; i < 5; i++) await db.command({ ping: 1 });
  });

  it('appName restricts failCommand to connections that announced that application name', async () => {
    await open();
    const other = new MongoClient(REAL_OR_STANDIN(), { ...clientOptions, appName: 'victim' });
    clients.push(other);
    await admin().command({
      configureFailPoint: 'failCommand',
      mode: 'alwaysOn',
      data: { failCommands: ['find'], errorCode: 2, appName: 'victim' },
    });
    expect(await target.client.db(target.dbName).collection<Doc>('fp').countDocuments()).toBe(1);
    await expect(other.db(target.dbName).collection<Doc>('fp').findOne()).rejects.toMatchObject({ code: 2 });
  });

  it('configureFailPoint refuses unknown fail points and modes', async () => {
    await open();
    await expect(admin().command({ configureFailPoint: 'noSuchFailPoint', mode: 'alwaysOn' })).rejects.toBeInstanceOf(
      MongoServerError,
    );
    await expect(
      admin().command({ configureFailPoint: 'failCommand', mode: { sometimes: 1 }, data: { failCommands: ['ping'] } }),
    ).rejects.toBeInstanceOf(MongoServerError);
  });
});
