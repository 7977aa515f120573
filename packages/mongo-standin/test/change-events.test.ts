import { Binary, MongoServerError, type Db } from 'mongodb';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { collectEvents, openStream, openTarget, printTargetNotice, targetKinds, type Target } from './support.js';

beforeAll(printTargetNotice);

const AWAIT = { maxAwaitTimeMS: 50 };
type Doc = { _id?: number | string; [field: string]: unknown };

/**
 * Change events as mongod 7.0 produces them (https://www.mongodb.com/docs/manual/reference/change-events/ and
 * the change-streams spec tests change-streams.yml, change-streams-showExpandedEvents.yml,
 * change-streams-pre_and_post_images.yml, change-streams-disambiguatedPaths.yml, change-streams-errors.yml).
 */
describe.each(targetKinds)('change events as mongod shapes them (%s)', (kind) => {
  let target: Target;
  afterEach(async () => {
    await target?.close();
  });
  const open = async (): Promise<Db> => {
    target = await openTarget(kind);
    return target.client.db(target.dbName);
  };

  it('a stream opened after a drop starts at "now": no earlier drop or invalidate, only what follows', async () => {
    const db = await open();
    const coll = db.collection<Doc>('recreated');
    await coll.insertOne({ n: 0 });
    await coll.drop();
    for (let attempt = 0; attempt < 2; attempt++) {
      const stream = await openStream(() => coll.watch([], AWAIT));
      await coll.insertOne({ n: attempt + 1 });
      const [event] = await collectEvents(stream, 1);
      expect(event).toMatchObject({ operationType: 'insert', fullDocument: { n: attempt + 1 } });
      await stream.close();
    }
  });

  it('renameCollection: the source stream gets rename (with to) then invalidate; a database stream only the rename', async () => {
    const db = await open();
    const source = db.collection<Doc>('before');
    await source.insertOne({ n: 1 });
    const onSource = await openStream(() => source.watch([], AWAIT));
    const onDb = await openStream(() => db.watch([], AWAIT));
    await source.rename('after');
    const sourceEvents = await collectEvents(onSource, 2);
    expect(sourceEvents.map((e) => e.operationType)).toEqual(['rename', 'invalidate']);
    expect(sourceEvents[0]).toMatchObject({
      ns: { db: target.dbName, coll: 'before' },
      to: { db: target.dbName, coll: 'after' },
    });
    await db.collection<Doc>('after').insertOne({ n: 2 });
    const dbEvents = await collectEvents(onDb, 2);
    expect(dbEvents.map((e) => e.operationType)).toEqual(['rename', 'insert']);
    expect(await db.collection('after').countDocuments()).toBe(2);
    await onDb.close();
  });

  it('renameCollection with dropTarget replaces the target, and a stream on the target is invalidated', async () => {
    const db = await open();
    await db.collection<Doc>('a').insertOne({ from: 'a' });
    await db.collection<Doc>('b').insertOne({ from: 'b' });
    const onTarget = await openStream(() => db.collection('b').watch([], AWAIT));
    await expect(db.collection('a').rename('b')).rejects.toMatchObject({ code: 48 }); // NamespaceExists
    await db.collection('a').rename('b', { dropTarget: true });
    const events = await collectEvents(onTarget, 2);
    expect(events.map((e) => e.operationType)).toEqual(['rename', 'invalidate']);
    expect(
      await db
        .collection('b')
        .find({}, { projection: { _id: 0 } })
        .toArray(),
    ).toEqual([{ from: 'a' }]);
  });

  it('$project and $addFields take aggregation expressions; removing _id fails with 280 NonResumableChangeStreamError', async () => {
    const db = await open();
    const coll = db.collection<Doc>('projected');
    const stream = await openStream(() =>
      coll.watch(
        [
          {
            $project: { optype: '$operationType', n: '$fullDocument.n', twice: { $multiply: ['$fullDocument.n', 2] } },
          },
          { $addFields: { label: { $concat: ['n=', { $toString: '$n' }] } } },
        ],
        AWAIT,
      ),
    );
    await coll.insertOne({ n: 21 });
    const [event] = await collectEvents(stream, 1);
    expect(event).toMatchObject({ optype: 'insert', n: 21, twice: 42, label: 'n=21' });
    expect(typeof event!._id._data).toBe('string');
    await stream.close();

    const broken = await openStream(() => coll.watch([{ $project: { _id: 0 } }], AWAIT));
    await coll.insertOne({ n: 1 });
    const error = await broken.next().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 280, codeName: 'ChangeStreamFatalError' });
    expect((error as MongoServerError).hasErrorLabel('NonResumableChangeStreamError')).toBe(true);
  });

  it('an unknown stage fails with 40324, a stage change streams do not allow with IllegalOperation', async () => {
    const db = await open();
    const coll = db.collection<Doc>('stages');
    await expect(coll.watch([{ $unsupported: 1 }]).tryNext()).rejects.toMatchObject({ code: 40324 });
    await expect(coll.watch([{ $group: { _id: '$x' } }]).tryNext()).rejects.toMatchObject({ code: 20 });
  });

  it('showExpandedEvents: create, createIndexes, modify, dropIndexes, rename with operationDescription and collectionUUID', async () => {
    const db = await open();
    const stream = await openStream(() => db.watch([], { ...AWAIT, showExpandedEvents: true }));
    const coll = await db.createCollection<Doc>('ddl');
    await coll.insertOne({ x: 1 });
    await coll.createIndex({ x: 1 }, { name: 'x_1' });
    await db.command({ collMod: 'ddl' });
    await coll.dropIndex('x_1');
    await coll.rename('ddl2');
    const events = await collectEvents(stream, 6);
    expect(events.map((e) => e.operationType)).toEqual([
      'create',
      'insert',
      'createIndexes',
      'modify',
      'dropIndexes',
      'rename',
    ]);
    const uuid = events[0]!.collectionUUID as Binary;
    for (const event of events) expect((event.collectionUUID as Binary).toString('hex')).toBe(uuid.toString('hex'));
    expect(events[2]!.operationDescription).toMatchObject({ indexes: [{ name: 'x_1', key: { x: 1 } }] });
    expect(events[4]!.operationDescription).toMatchObject({ indexes: [{ name: 'x_1', key: { x: 1 } }] });
    expect(events[5]!.operationDescription).toMatchObject({ to: { db: target.dbName, coll: 'ddl2' } });
    await stream.close();
  });

  it('without showExpandedEvents, DDL events are not shown and updates carry no disambiguatedPaths', async () => {
    const db = await open();
    const coll = db.collection<Doc>('plain');
    await coll.insertOne({ _id: 1, a: { '1': 1 } });
    const stream = await openStream(() => coll.watch([], AWAIT));
    await coll.createIndex({ y: 1 });
    await coll.updateOne({ _id: 1 }, { $set: { 'a.1': 2 } });
    const [event] = await collectEvents(stream, 1);
    expect(event).toMatchObject({ operationType: 'update', updateDescription: { updatedFields: { 'a.1': 2 } } });
    expect(event!.updateDescription.disambiguatedPaths).toBeUndefined();
    await stream.close();
  });

  it('updateDescription: disambiguatedPaths for numeric field names (array indices as integers), truncatedArrays', async () => {
    const db = await open();
    const coll = db.collection<Doc>('paths');
    await coll.insertMany([
      { _id: 1, a: { '1': 1 } },
      { _id: 2, a: [{ '1': 1 }] },
      { _id: 3, array: ['foo', { a: 'bar' }, 1, 2, 3] },
    ]);
    const stream = await openStream(() => coll.watch([], { ...AWAIT, showExpandedEvents: true }));
    await coll.updateOne({ _id: 1 }, { $set: { 'a.1': 2 } });
    await coll.updateOne({ _id: 2 }, { $set: { 'a.0.1': 2 } });
    await coll.updateOne({ _id: 3 }, [{ $set: { array: ['foo', { a: 'bar' }] } }]);
    const events = await collectEvents(stream, 3);
    expect(events[0]!.updateDescription.disambiguatedPaths).toEqual({ 'a.1': ['a', '1'] });
    expect(events[1]!.updateDescription.disambiguatedPaths).toEqual({ 'a.0.1': ['a', 0, '1'] });
    expect(events[2]!.updateDescription).toMatchObject({
      updatedFields: {},
      removedFields: [],
      truncatedArrays: [{ field: 'array', newSize: 2 }],
    });
    await stream.close();
  });

  it('pre- and post-images exist only where changeStreamPreAndPostImages was enabled when the write happened', async () => {
    const db = await open();
    const coll = db.collection<Doc>('images');
    await coll.insertMany([
      { _id: 1, v: 1 },
      { _id: 2, v: 1 },
    ]);
    const options = { ...AWAIT, fullDocument: 'whenAvailable', fullDocumentBeforeChange: 'whenAvailable' } as const;
    const stream = await openStream(() => coll.watch([], options));
    await coll.updateOne({ _id: 1 }, { $set: { v: 2 } });
    await db.command({ collMod: 'images', changeStreamPreAndPostImages: { enabled: true } });
    await coll.updateOne({ _id: 2 }, { $set: { v: 2 } });
    const [without, withImages] = await collectEvents(stream, 2);
    expect(without).toMatchObject({ fullDocument: null, fullDocumentBeforeChange: null });
    expect(withImages).toMatchObject({ fullDocument: { _id: 2, v: 2 }, fullDocumentBeforeChange: { _id: 2, v: 1 } });
    await stream.close();

    // 'required' fails the stream on an event that has no image: NoMatchingDocument (47).
    await db.command({ collMod: 'images', changeStreamPreAndPostImages: { enabled: false } });
    const required = await openStream(() => coll.watch([], { ...AWAIT, fullDocumentBeforeChange: 'required' }));
    await coll.deleteOne({ _id: 1 });
    await expect(required.next()).rejects.toMatchObject({ code: 47 });
  });

  it('$changeStreamSplitLargeEvent splits an event over 16 MiB into fragments, each with its own token', async () => {
    const db = await open();
    const coll = await db.createCollection<Doc>('large', { changeStreamPreAndPostImages: { enabled: true } });
    await coll.insertOne({ _id: 1, value: 'q'.repeat(10 * 1024 * 1024) });
    const stream = await openStream(() =>
      coll.watch([{ $changeStreamSplitLargeEvent: {} }], { ...AWAIT, fullDocumentBeforeChange: 'required' }),
    );
    await coll.updateOne({ _id: 1 }, { $set: { value: 'z'.repeat(10 * 1024 * 1024) } });
    const fragments = await collectEvents(stream, 2);
    expect(fragments.map((f) => f.splitEvent)).toEqual([
      { fragment: 1, of: 2 },
      { fragment: 2, of: 2 },
    ]);
    expect(fragments[0]!._id._data < fragments[1]!._id._data).toBe(true);
    await stream.close();
  });

  it('refuses a change stream on a view (CommandNotSupportedOnView, 166)', async () => {
    const db = await open();
    await db.createCollection('base');
    await db.createCollection('v', { viewOn: 'base', pipeline: [] });
    await expect(db.collection('v').watch().tryNext()).rejects.toMatchObject({ code: 166 });
  });
});
