import { Timestamp, type ChangeStreamDocument, type Document } from 'mongodb';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  collectEvents,
  insertedNumbers,
  openStream,
  openTarget,
  printTargetNotice,
  range,
  targetKinds,
  type Target,
} from './support.js';

beforeAll(printTargetNotice);

const AWAIT = { maxAwaitTimeMS: 50 };

describe.each(targetKinds)('change streams through the official driver (%s)', (kind) => {
  let target: Target;
  afterEach(async () => {
    await target?.close();
  });
  const open = async (options = {}) => {
    target = await openTarget(kind, options);
    return target.client.db(target.dbName);
  };

  it('delivers insert, update, replace and delete events shaped as MongoDB shapes them', async () => {
    const db = await open();
    const coll = db.collection('msgs');
    const stream = await openStream(() => coll.watch([], AWAIT));
    const { insertedId } = await coll.insertOne({ n: 1, text: 'hi' });
    await coll.updateOne({ _id: insertedId }, { $set: { text: 'edited' }, $unset: { n: '' } });
    await coll.replaceOne({ _id: insertedId }, { text: 'replaced' });
    await coll.deleteOne({ _id: insertedId });
    const events = await collectEvents(stream, 4);
    await stream.close();

    expect(events.map((e) => e.operationType)).toEqual(['insert', 'update', 'replace', 'delete']);
    const [insert, update, replace, remove] = events as [Document, Document, Document, Document];
    expect(insert).toMatchObject({
      ns: { db: target.dbName, coll: 'msgs' },
      documentKey: { _id: insertedId },
      fullDocument: { _id: insertedId, n: 1, text: 'hi' },
    });
    expect(update.updateDescription).toMatchObject({ updatedFields: { text: 'edited' }, removedFields: ['n'] });
    expect(update.fullDocument).toBeUndefined();
    expect(replace.fullDocument).toEqual({ _id: insertedId, text: 'replaced' });
    expect(remove).toMatchObject({ documentKey: { _id: insertedId } });
    for (const event of events) {
      expect(event.clusterTime).toBeInstanceOf(Timestamp);
      expect(typeof event._id._data).toBe('string');
    }
    const tokens = events.map((e) => e._id._data as string);
    expect([...tokens].sort()).toEqual(tokens);
    expect(new Set(tokens).size).toBe(tokens.length);
  });

  it('filters with $match on operationType, fullDocument fields and ns, with $in/$nin/$ne/$exists/$or', async () => {
    const db = await open();
    const a = db.collection('a');
    const b = db.collection('b');
    const pipeline = [
      {
        $match: {
          operationType: { $in: ['insert', 'delete'] },
          'ns.coll': { $ne: 'b' },
          $or: [{ 'fullDocument.room': { $nin: ['secret'] } }, { operationType: 'delete' }],
          'fullDocument.hidden': { $exists: false },
        },
      },
    ];
    const stream = await openStream(() => db.watch(pipeline, AWAIT));
    await a.insertMany([
      { n: 1, room: 'lobby' },
      { n: 2, room: 'secret' },
      { n: 3, room: 'lobby', hidden: true },
      { n: 4, room: 'kitchen' },
    ]);
    await b.insertOne({ n: 5, room: 'lobby' });
    await a.updateOne({ n: 1 }, { $set: { x: 1 } });
    await a.deleteOne({ n: 4 });
    await a.insertOne({ n: 6, room: 'lobby' });
    const events = await collectEvents(stream, 4);
    await stream.close();
    expect(events.map((e) => `${e.operationType}:${e.fullDocument?.n ?? '-'}`)).toEqual([
      'insert:1',
      'insert:4',
      'delete:-',
      'insert:6',
    ]);
  });

  it('returns the current document with fullDocument: updateLookup', async () => {
    const db = await open();
    const coll = db.collection('docs');
    const stream = await openStream(() =>
      coll.watch([{ $match: { operationType: 'update' } }], { ...AWAIT, fullDocument: 'updateLookup' }),
    );
    await coll.insertOne({ _id: 1 as never, v: 1 });
    await coll.updateOne({ _id: 1 as never }, { $inc: { v: 1 } });
    const [event] = await collectEvents(stream, 1);
    await stream.close();
    expect(event?.fullDocument).toEqual({ _id: 1, v: 2 });
  });

  it('resumes with resumeAfter, startAfter and startAtOperationTime without losing or repeating events', async () => {
    const db = await open();
    const coll = db.collection('seq');
    const first = await openStream(() => coll.watch([], AWAIT));
    await coll.insertMany(range(1, 3).map((n) => ({ n })));
    const seen = await collectEvents(first, 2);
    await first.close();
    expect(insertedNumbers(seen)).toEqual([1, 2]);
    await coll.insertMany(range(4, 5).map((n) => ({ n })));

    const token = seen[1]!._id;
    const resumed = coll.watch([], { ...AWAIT, resumeAfter: token });
    expect(insertedNumbers(await collectEvents(resumed, 3))).toEqual([3, 4, 5]);
    await resumed.close();

    const started = coll.watch([], { ...AWAIT, startAfter: token });
    expect(insertedNumbers(await collectEvents(started, 3))).toEqual([3, 4, 5]);
    await started.close();

    const atTime = coll.watch([], { ...AWAIT, startAtOperationTime: seen[1]!.clusterTime as Timestamp });
    expect(insertedNumbers(await collectEvents(atTime, 4))).toEqual([2, 3, 4, 5]);
    await atTime.close();
  });

  it('carries a postBatchResumeToken in every batch, also when empty, and it only moves forward', async () => {
    const db = await open();
    const coll = db.collection('pbrt');
    const stream = await openStream(() => coll.watch([{ $match: { 'fullDocument.keep': true } }], AWAIT));
    const initial = stream.resumeToken as Document;
    expect(typeof initial._data).toBe('string');
    await coll.insertOne({ keep: false });
    // Filtered-out writes still advance the token, so resuming later does not rescan them.
    let advanced = initial;
    for (let i = 0; i < 50 && advanced._data === initial._data; i++) {
      expect(await stream.tryNext()).toBeNull();
      advanced = stream.resumeToken as Document;
    }
    expect(advanced._data > initial._data).toBe(true);
    await coll.insertOne({ keep: true, n: 7 });
    const [event] = await collectEvents(stream, 1);
    expect(event?.fullDocument?.n).toBe(7);
    expect((stream.resumeToken as Document)._data >= event!._id._data).toBe(true);
    await stream.close();
  });

  it('ends a collection stream with drop and invalidate; startAfter the invalidate works, resumeAfter does not', async () => {
    const db = await open();
    const coll = db.collection('gone');
    await coll.insertOne({ n: 0 });
    const stream = await openStream(() => coll.watch([], AWAIT));
    await coll.insertOne({ n: 1 });
    await coll.drop();
    const events = await collectEvents(stream, 3);
    expect(events.map((e) => e.operationType)).toEqual(['insert', 'drop', 'invalidate']);
    const invalidate = events[2]!._id;
    await stream.close();

    await coll.insertOne({ n: 2 });
    const after = coll.watch([], { ...AWAIT, startAfter: invalidate });
    await coll.insertOne({ n: 3 });
    expect(insertedNumbers(await collectEvents(after, 2))).toEqual([2, 3]);
    await after.close();

    const bad = coll.watch([], { ...AWAIT, resumeAfter: invalidate });
    await expect(bad.tryNext()).rejects.toMatchObject({ code: 260 });
    await bad.close();
  });

  it('reports dropDatabase on a database stream and then invalidates it', async () => {
    const db = await open();
    await db.collection('x').insertOne({ n: 0 });
    const stream = await openStream(() => db.watch([], AWAIT));
    await db.dropDatabase();
    const events: ChangeStreamDocument[] = (await collectEvents(stream, 3)) as ChangeStreamDocument[];
    expect(events.map((e) => e.operationType)).toEqual(['drop', 'dropDatabase', 'invalidate']);
    await stream.close();
  });

  it('shows TTL expiry and capped roll-over as delete events', async () => {
    const db = await open({ ttlMonitorIntervalMs: 50 });
    const stream = await openStream(() => db.watch([{ $match: { operationType: 'delete' } }], AWAIT));
    const log = await db.createCollection('log', { capped: true, size: 4096, max: 2 });
    for (let n = 1; n <= 3; n++) await log.insertOne({ n });
    const [rolled] = await collectEvents(stream, 1);
    expect(rolled).toMatchObject({ ns: { coll: 'log' } });
    if (kind === 'stand-in') {
      // mongod's TTL monitor runs once a minute; only the stand-in is fast enough for a unit test.
      const sessions = db.collection('sessions');
      await sessions.createIndex({ at: 1 }, { expireAfterSeconds: 1 });
      const { insertedId } = await sessions.insertOne({ at: new Date(Date.now() - 5_000) });
      const [expired] = await collectEvents(stream, 1);
      expect(expired).toMatchObject({ ns: { coll: 'sessions' }, documentKey: { _id: insertedId } });
    }
    await stream.close();
  });

  it('watches the whole cluster with client.watch()', async () => {
    const db = await open();
    const stream = await openStream(() => target.client.watch([{ $match: { 'ns.db': target.dbName } }], AWAIT));
    await db.collection('one').insertOne({ n: 1 });
    await db.collection('two').insertOne({ n: 2 });
    const events = await collectEvents(stream, 2);
    expect(events.map((e) => `${e.ns.coll}:${e.fullDocument.n}`)).toEqual(['one:1', 'two:2']);
    await stream.close();
  });
});
