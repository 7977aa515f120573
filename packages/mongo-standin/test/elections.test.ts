import { Long } from 'bson';
import { MongoClient, type CommandSucceededEvent, type Document } from 'mongodb';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { MongoStandIn } from '../src/index.js';
import { RawClient } from './raw-client.js';
import {
  clientOptions,
  collectEvents,
  describeSet,
  directClient,
  hostAndPort,
  insertedNumbers,
  openStream,
  openTarget,
  printTargetNotice,
  range,
  REAL_URI,
  waitFor,
  type Target,
} from './support.js';

beforeAll(() => {
  printTargetNotice();
  if (REAL_URI)
    console.warn('[mongo-standin] election tests are SKIPPED against MONGODB_URI: they need the stand-in handle.');
});

const AWAIT = { maxAwaitTimeMS: 50 };

/**
 * Elections, as https://www.mongodb.com/docs/manual/core/replica-set-elections/ and
 * https://www.mongodb.com/docs/manual/core/replica-set-rollbacks/ describe them, seen through the official
 * driver. Fault injection needs the stand-in's handle: these tests do not run against MONGODB_URI.
 */
describe.skipIf(REAL_URI !== undefined)('elections and failover (stand-in)', () => {
  let target: Target;
  const extra: Array<MongoClient | RawClient> = [];
  afterEach(async () => {
    for (const client of extra.splice(0)) {
      if (client instanceof RawClient) client.close();
      else await client.close(true);
    }
    await target?.close();
  });

  async function setup(members = 3): Promise<{ mongo: MongoStandIn; client: MongoClient }> {
    target = await openTarget('stand-in', { members });
    return { mongo: target.standIn!, client: target.client };
  }

  const direct = (address: string) => {
    const client = directClient(address);
    extra.push(client);
    return client;
  };

  const numbersOn = async (address: string, db: string, coll: string) =>
    (await direct(address).db(db).collection(coll).find().sort({ n: 1 }).toArray()).map((d) => d.n as number);

  it('failover(): no member is primary during the election, then another one is, in a higher term with a greater electionId; the driver follows', async () => {
    const { mongo, client } = await setup();
    const before = await describeSet(client);
    mongo.faults.failover({ electionMs: 300 });
    expect(mongo.faults.steppedDown).toBe(true);
    expect(mongo.primary).toBeUndefined();
    for (const member of mongo.members) {
      const hello = await direct(member.address).db('admin').command({ hello: 1 });
      expect(hello).toMatchObject({ isWritablePrimary: false, secondary: true });
      expect(hello.primary).toBeUndefined();
    }
    const coll = client.db(target.dbName).collection('numbers');
    await coll.insertOne({ n: 1 }); // waits in server selection for the new primary
    expect(mongo.primary).toBeDefined();
    expect(mongo.primary).not.toBe(0);
    const after = await describeSet(client);
    expect(after.primary).not.toBe(before.primary);
    expect(after.hello.electionId.toHexString() > before.hello.electionId.toHexString()).toBe(true);
    expect(mongo.term).toBe(2);
    expect(mongo.counters).toMatchObject({ failovers: 1, elections: 1 });
  });

  it('failover({ to }) elects that member', async () => {
    const { mongo, client } = await setup();
    mongo.faults.failover({ electionMs: 50, to: 2 });
    await client.db(target.dbName).collection('numbers').insertOne({ n: 1 });
    expect(mongo.primary).toBe(2);
    expect(mongo.members.map((m) => m.state)).toEqual(['SECONDARY', 'SECONDARY', 'PRIMARY']);
  });

  it('replSetFreeze keeps a secondary from being elected for its period; replSetFreeze: 0 lifts it', async () => {
    const { mongo } = await setup();
    const freeze = (i: number, seconds: number) =>
      direct(mongo.members[i]!.address).db('admin').command({ replSetFreeze: seconds });
    await freeze(1, 60);
    mongo.faults.failover({ electionMs: 50 });
    await waitFor('an election', () => mongo.primary !== undefined);
    expect(mongo.primary).toBe(2);
    await freeze(1, 0);
    mongo.faults.failover({ electionMs: 50 });
    await waitFor('an election', () => mongo.primary !== undefined);
    expect(mongo.primary).not.toBe(2);
    await expect(freeze(mongo.primary!, 60)).rejects.toMatchObject({ code: 95 });
  });

  it('restart() of every member keeps the data; the set elects its primary again in a new term; dropConnections(member) drops one member’s connections', async () => {
    const { mongo, client } = await setup();
    const coll = client.db(target.dbName).collection('numbers');
    await coll.insertOne({ n: 1 });
    await mongo.restart({ downtimeMs: 50 });
    await coll.insertOne({ n: 2 });
    expect([mongo.primary, mongo.term]).toEqual([0, 2]);
    for (const member of mongo.members)
      expect(await numbersOn(member.address, target.dbName, 'numbers')).toEqual([1, 2]);
    const secondary = direct(mongo.members[2]!.address);
    await secondary.db('admin').command({ ping: 1 });
    expect(mongo.faults.dropConnections(2)).toBeGreaterThan(0);
    expect(() => mongo.faults.dropConnections(3)).toThrow(/member must be an index from 0 to 2/);
  });

  it('a lone member is without a primary during a failover or a step-down, then is elected again in a higher term', async () => {
    const { mongo, client } = await setup(1);
    const coll = client.db(target.dbName).collection('numbers');
    mongo.faults.failover({ electionMs: 200 });
    expect(mongo.primary).toBeUndefined();
    await coll.insertOne({ n: 1 });
    expect([mongo.primary, mongo.term]).toEqual([0, 2]);
    mongo.faults.stepDown(300);
    expect(mongo.faults.steppedDown).toBe(true);
    await coll.insertOne({ n: 2 });
    expect([mongo.primary, mongo.term]).toEqual([0, 3]);
    expect(await coll.countDocuments()).toBe(2);
  });

  it('stepDown(ms) with other members: a caught-up secondary takes over at once and the old primary is not elected during ms', async () => {
    const { mongo, client } = await setup();
    const coll = client.db(target.dbName).collection('numbers');
    await coll.insertOne({ n: 1 });
    mongo.faults.stepDown(60_000);
    await coll.insertOne({ n: 2 });
    expect(mongo.primary).not.toBe(0);
    mongo.faults.failover({ electionMs: 50, rollbackUnreplicated: false });
    await coll.insertOne({ n: 3 });
    expect(mongo.primary).not.toBe(0); // still ineligible
    expect(await coll.countDocuments()).toBe(3);
    expect(mongo.counters.stepDowns).toBe(1);
  });

  it('a change stream on the old primary carries on through a clean failover: every event once, in order, without resuming', async () => {
    // Since 4.2 a step-down kills no reads and closes no connections: getMore on the stepped-down member keeps
    // serving the stream (SERVER-38511; connections-survive-step-down spec, "getMore Iteration").
    const { mongo, client } = await setup();
    const coll = client.db(target.dbName).collection('numbers');
    const stream = await openStream(() => coll.watch([], AWAIT));
    for (const n of range(1, 3)) await coll.insertOne({ n });
    expect(insertedNumbers(await collectEvents(stream, 3))).toEqual([1, 2, 3]);
    mongo.faults.failover({ electionMs: 300 });
    for (const n of range(4, 6)) await coll.insertOne({ n });
    expect(insertedNumbers(await collectEvents(stream, 3))).toEqual([4, 5, 6]);
    expect(mongo.counters.changeStreamsResumed).toBe(0);
    await stream.close();
  });

  it('a find cursor opened on the primary is iterated on after it steps down (connections-survive-step-down spec, "getMore Iteration")', async () => {
    const { mongo, client } = await setup();
    const coll = client.db(target.dbName).collection('numbers');
    await coll.insertMany(range(1, 5).map((n) => ({ n })));
    const cleared: string[] = [];
    client.on('connectionPoolCleared', (event) => cleared.push(event.address));
    const cursor = coll.find({}, { batchSize: 2 }).sort({ n: 1 });
    expect((await cursor.next())?.n).toBe(1);
    await client.db('admin').command({ replSetStepDown: 30, force: true });
    const rest: number[] = [];
    for await (const doc of cursor) rest.push(doc.n as number);
    expect(rest).toEqual([2, 3, 4, 5]);
    expect(mongo.primary).not.toBe(0);
    expect(cleared).toEqual([]); // the spec's check: no PoolClearedEvent
  });

  it('a clean failover loses nothing: the new primary first catches up on writes it had not replicated yet', async () => {
    const { mongo, client } = await setup();
    const coll = client.db(target.dbName).collection('numbers');
    mongo.faults.setReplicationLag(60_000);
    await coll.insertOne({ n: 1 }, { writeConcern: { w: 1 } });
    mongo.faults.failover({ electionMs: 50 });
    mongo.faults.setReplicationLag(0);
    await coll.insertOne({ n: 2 });
    expect(mongo.primary).not.toBe(0);
    for (const member of mongo.members)
      expect(await numbersOn(member.address, target.dbName, 'numbers')).toEqual([1, 2]);
    expect(mongo.counters.rollbacks).toBe(0);
  });

  it('failover({ rollbackUnreplicated }): writes that were not majority-committed are rolled back everywhere, and no change stream ever showed them', async () => {
    const { mongo, client } = await setup();
    const coll = client.db(target.dbName).collection('numbers');
    const stream = await openStream(() => coll.watch([], AWAIT));
    await coll.insertOne({ n: 1 });
    expect(insertedNumbers(await collectEvents(stream, 1))).toEqual([1]);

    mongo.faults.setReplicationLag(60_000);
    await coll.insertOne({ n: 2 }, { writeConcern: { w: 1 } }); // acknowledged by the primary alone
    expect(await coll.countDocuments()).toBe(2);
    expect(await stream.tryNext()).toBeNull(); // not majority-committed: not shown

    mongo.faults.failover({ electionMs: 100, rollbackUnreplicated: true });
    await waitFor('a new primary', () => mongo.primary !== undefined);
    mongo.faults.setReplicationLag(0);
    await coll.insertOne({ n: 3 });
    expect(insertedNumbers(await collectEvents(stream, 1))).toEqual([3]);
    for (const member of mongo.members)
      expect(await numbersOn(member.address, target.dbName, 'numbers')).toEqual([1, 3]);
    expect(mongo.counters.rollbacks).toBe(1);
    expect(mongo.counters.entriesRolledBack).toBeGreaterThanOrEqual(1);
    await stream.close();
  });

  it('a getMore waiting on a member that rolls back fails with InterruptedDueToReplStateChange (11602), labelled ResumableChangeStreamError', async () => {
    // "Starting in version 4.2, MongoDB kills all in-progress user operations when a member enters the ROLLBACK
    // state" (manual, Rollbacks During Replica Set Failover).
    const { mongo, client } = await setup();
    const { host, port } = hostAndPort(mongo.members[0]!.address);
    const raw = await RawClient.open(port, host);
    extra.push(raw);
    const opened = await raw.msg({
      aggregate: 'numbers',
      pipeline: [{ $changeStream: {} }],
      cursor: {},
      $db: target.dbName,
    });
    expect(opened).toMatchObject({ ok: 1 });
    mongo.faults.setReplicationLag(60_000);
    await client
      .db(target.dbName)
      .collection('numbers')
      .insertOne({ n: 1 }, { writeConcern: { w: 1 } });
    const getMore = raw.msg({
      getMore: Long.fromValue(opened.cursor.id as number | Long),
      collection: 'numbers',
      maxTimeMS: 30_000,
      $db: target.dbName,
    });
    mongo.faults.failover({ electionMs: 50, rollbackUnreplicated: true });
    expect(await getMore).toMatchObject({
      ok: 0,
      code: 11602,
      codeName: 'InterruptedDueToReplStateChange',
      errorLabels: ['ResumableChangeStreamError'],
    });
    expect(mongo.counters.rollbacks).toBe(1);
  });

  it.each([false, true])(
    'a write waiting for w:majority when the primary fails gets PrimarySteppedDown (189) labelled RetryableWriteError; the driver retries it once and it is stored once (rollbackUnreplicated: %s)',
    async (rollbackUnreplicated) => {
      const { mongo } = await setup();
      const client = new MongoClient(mongo.uri, { ...clientOptions, monitorCommands: true });
      extra.push(client);
      const replies: Document[] = [];
      client.on(
        'commandSucceeded',
        (e: CommandSucceededEvent) => e.commandName === 'insert' && replies.push(e.reply as Document),
      );
      const coll = client.db(target.dbName).collection('numbers');
      mongo.faults.setReplicationLag(60_000);
      const pending = coll.insertOne({ _id: 'once' as never, n: 1 });
      await waitFor(
        'the write to be applied on the primary',
        async () => (await numbersOn(mongo.members[0]!.address, target.dbName, 'numbers')).length === 1,
      );
      mongo.faults.failover({ electionMs: 100, rollbackUnreplicated });
      mongo.faults.setReplicationLag(0);
      await pending;
      expect(replies[0]).toMatchObject({
        ok: 1,
        n: 1,
        writeConcernError: { code: 189, codeName: 'PrimarySteppedDown' },
        errorLabels: ['RetryableWriteError'],
      });
      expect(replies).toHaveLength(2);
      expect(await coll.countDocuments({ _id: 'once' as never })).toBe(1);
      if (rollbackUnreplicated) expect(mongo.counters.rollbacks).toBe(1);
      else expect(mongo.counters.retriedWritesDeduplicated).toBe(1);
    },
  );

  it('replSetStepDown: the primary hands over to a caught-up secondary; a lone member refuses without force (ExceededTimeLimit, 262)', async () => {
    const { mongo, client } = await setup();
    await client.db('admin').command({ replSetStepDown: 60 });
    await client.db(target.dbName).collection('numbers').insertOne({ n: 1 });
    expect(mongo.primary).not.toBe(0);
    expect(mongo.counters.stepDowns).toBe(1);
    await target.close();

    const lone = await setup(1);
    await expect(
      lone.client.db('admin').command({ replSetStepDown: 60, secondaryCatchUpPeriodSecs: 0 }),
    ).rejects.toMatchObject({ code: 262 });
    await expect(lone.client.db('admin').command({ replSetStepDown: 5 })).rejects.toMatchObject({ code: 2 });
    await lone.client.db('admin').command({ replSetStepDown: 1, force: true });
    expect(lone.mongo.primary).toBeUndefined();
  });
});
