import { Double, Long, MongoClient, type Db } from 'mongodb';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { clientOptions, openTarget, printTargetNotice, REAL_URI, targetKinds, type Target } from './support.js';

beforeAll(printTargetNotice);

type Doc = { _id?: number | string; [field: string]: unknown };

/**
 * Collections and documents as mongod 7.0 keeps them: views, validation, clustered, time series and capped
 * collections, BSON types, collation, tailable cursors and snapshot reads. Each test cites the manual page
 * (or spec test) it mirrors.
 */
describe.each(targetKinds)('collections through the official driver (%s)', (kind) => {
  let target: Target;
  let extra: MongoClient[] = [];
  afterEach(async () => {
    for (const client of extra) await client.close(true);
    extra = [];
    await target?.close();
  });
  const open = async (): Promise<Db> => {
    target = await openTarget(kind);
    return target.client.db(target.dbName);
  };

  it('views: reads run the view pipeline; writes are refused with 166 (manual: core/views)', async () => {
    const db = await open();
    await db.collection<Doc>('people').insertMany([
      { _id: 1, name: 'ann', age: 30 },
      { _id: 2, name: 'bob', age: 15 },
    ]);
    await db.createCollection('adults', { viewOn: 'people', pipeline: [{ $match: { age: { $gte: 18 } } }] });
    const adults = db.collection<Doc>('adults');
    expect(await adults.find().toArray()).toEqual([{ _id: 1, name: 'ann', age: 30 }]);
    expect(await adults.countDocuments()).toBe(1);
    expect(await adults.estimatedDocumentCount()).toBe(1); // crud/unified/estimatedDocumentCount.yml
    expect(await adults.aggregate([{ $project: { _id: 0, name: 1 } }]).toArray()).toEqual([{ name: 'ann' }]);
    const infos = await db.listCollections({ name: 'adults' }).toArray();
    expect(infos[0]).toMatchObject({ type: 'view', options: { viewOn: 'people' } });
    await expect(adults.insertOne({ name: 'x' })).rejects.toMatchObject({ code: 166 });
  });

  it('validation: failing writes get DocumentValidationFailure (121) with errInfo; bypassDocumentValidation passes', async () => {
    // crud/unified/findOneAndUpdate-errorResponse.yml; manual: core/schema-validation
    const db = await open();
    const coll = db.collection<Doc>('checked');
    await coll.insertOne({ _id: 1, x: 'foo' });
    await db.command({ collMod: 'checked', validator: { x: { $type: 'string' } } });
    const error = await coll.findOneAndUpdate({ _id: 1 }, { $set: { x: 1 } }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 121, errInfo: { failingDocumentId: 1 } });
    expect(typeof (error as { errInfo: { details: unknown } }).errInfo.details).toBe('object');
    await coll.insertOne({ _id: 2, x: 2 }, { bypassDocumentValidation: true });
    await db.command({
      collMod: 'checked',
      validator: { $jsonSchema: { required: ['x'], properties: { x: { bsonType: 'string' } } } },
    });
    await expect(coll.insertOne({ _id: 3 })).rejects.toMatchObject({ code: 121 });
    await coll.insertOne({ _id: 4, x: 'ok' });
    expect(await coll.countDocuments()).toBe(3);
  });

  it('clustered and time series collections are created and listed as mongod lists them', async () => {
    // collection-management/clustered-indexes.yml and timeseries-collection.yml
    const db = await open();
    await db.createCollection('clustered', { clusteredIndex: { key: { _id: 1 }, unique: true, name: 'by id' } });
    const [clustered] = await db.listCollections({ name: 'clustered' }).toArray();
    expect(clustered).toMatchObject({ options: { clusteredIndex: { key: { _id: 1 }, unique: true, name: 'by id' } } });
    expect(await db.collection('clustered').listIndexes().toArray()).toMatchObject([
      { key: { _id: 1 }, name: 'by id', clustered: true },
    ]);
    await db.createCollection('series', {
      timeseries: { timeField: 'time', metaField: 'meta' },
      expireAfterSeconds: 60,
    });
    const series = db.collection<Doc>('series');
    const at = new Date();
    await series.insertMany([
      { _id: 1, time: at },
      { _id: 1, time: new Date(at.getTime() + 1) },
    ]);
    expect(await series.countDocuments()).toBe(2); // time series collections allow duplicate _ids
    const [info] = await db.listCollections({ name: 'series' }).toArray();
    expect(info).toMatchObject({
      type: 'timeseries',
      options: { timeseries: { timeField: 'time', metaField: 'meta' } },
    });
  });

  it('capped collections refuse a document bigger than the collection and TTL indexes', async () => {
    const db = await open();
    const capped = await db.createCollection<Doc>('log', { capped: true, size: 4096 });
    await expect(capped.insertOne({ big: 'x'.repeat(5000) })).rejects.toMatchObject({ code: 2 });
    await expect(capped.createIndex({ at: 1 }, { expireAfterSeconds: 5 })).rejects.toMatchObject({ code: 67 });
  });

  it('an insert over 16 MiB fails with BadValue (2), "object to insert too large"', async () => {
    const db = await open();
    const error = await db
      .collection<Doc>('huge')
      .insertOne({ blob: 'x'.repeat(16 * 1024 * 1024) })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 2 });
    expect(String((error as Error).message)).toContain('object to insert too large');
  });

  it('keeps BSON number types: a whole-number double stays a double, an int64 a long (manual: bson-types)', async () => {
    const db = await open();
    const raw = new MongoClient(REAL_URI ?? target.standIn!.uri, { ...clientOptions, promoteValues: false });
    extra.push(raw);
    const coll = db.collection<{ _id: number; d?: Double; l?: Long; i?: number | Double; f?: number }>('types');
    await coll.insertOne({ _id: 1, d: new Double(2), l: Long.fromNumber(5), i: 3, f: 2.5 });
    await coll.updateOne({ _id: 1 }, { $inc: { i: new Double(1), l: 1 } });
    const doc = await raw
      .db(target.dbName)
      .collection('types')
      .findOne({ _id: 1 } as never);
    expect(doc!.d._bsontype).toBe('Double');
    expect(doc!.l._bsontype).toBe('Long');
    expect(doc!.l.toNumber()).toBe(6);
    expect(doc!.i._bsontype).toBe('Double'); // int + double is a double
    expect(doc!.i.valueOf()).toBe(4);
    expect(doc!.f._bsontype).toBe('Double');
    const types = await coll
      .aggregate([{ $project: { _id: 0, d: { $type: '$d' }, l: { $type: '$l' }, i: { $type: '$i' } } }])
      .toArray();
    expect(types).toEqual([{ d: 'double', l: 'long', i: 'double' }]);
  });

  it('honours collation on queries, sorts and updates (crud/unified/*-collation.yml)', async () => {
    const db = await open();
    const coll = db.collection<Doc>('words');
    await coll.insertMany([
      { _id: 1, x: 'ping' },
      { _id: 2, x: 'PING' },
      { _id: 3, x: 'pong' },
    ]);
    const insensitive = { locale: 'en_US', strength: 2 };
    expect(await coll.countDocuments({ x: 'ping' }, { collation: insensitive })).toBe(2);
    expect(await coll.countDocuments({ x: 'ping' })).toBe(1);
    const result = await coll.updateMany({ x: 'PING' }, { $set: { seen: true } }, { collation: insensitive });
    expect(result).toMatchObject({ matchedCount: 2, modifiedCount: 2 });
    await expect(coll.find({}, { collation: { locale: 'xx_NOPE' } }).toArray()).rejects.toMatchObject({ code: 2 });
  });

  it('tailable awaitData cursors on a capped collection return later inserts (manual: core/tailable-cursors)', async () => {
    const db = await open();
    const log = await db.createCollection<Doc>('tail', { capped: true, size: 4096, max: 10 });
    await log.insertMany([{ n: 1 }, { n: 2 }]);
    const cursor = log.find({}, { tailable: true, awaitData: true, maxAwaitTimeMS: 50, batchSize: 2 });
    expect((await cursor.next())!.n).toBe(1);
    expect((await cursor.next())!.n).toBe(2);
    await log.insertOne({ n: 3 });
    expect((await cursor.next())!.n).toBe(3);
    await cursor.close();
    await expect(db.collection('plain').find({}, { tailable: true }).toArray()).rejects.toMatchObject({ code: 2 });
  });

  it('snapshot reads see the data as of the session snapshot (sessions/snapshot-sessions.yml)', async () => {
    const db = await open();
    const coll = db.collection<{ _id: number; x?: number }>('snap');
    await coll.insertOne({ _id: 1, x: 11 });
    const session = target.client.startSession({ snapshot: true });
    expect(await coll.findOne({ _id: 1 }, { session })).toEqual({ _id: 1, x: 11 });
    await coll.updateOne({ _id: 1 }, { $inc: { x: 1 } });
    await coll.insertOne({ _id: 2, x: 1 });
    expect(await coll.find({}, { session }).toArray()).toEqual([{ _id: 1, x: 11 }]);
    expect(await coll.distinct('x', {}, { session })).toEqual([11]);
    await expect(coll.insertOne({ _id: 3 }, { session })).rejects.toBeDefined();
    await session.endSession();
  });
});
