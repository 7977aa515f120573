import { type Db } from 'mongodb';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openTarget, printTargetNotice, targetKinds, type Target } from './support.js';

beforeAll(printTargetNotice);

type Doc = { _id?: number | string; [field: string]: unknown };

/**
 * The aggregation language and what is built on it, as the CRUD spec tests use them (crud/unified:
 * aggregate-*.yml, updateWithPipelines.yml, *-let.yml, *-arrayFilters.yml, aggregate-merge.yml,
 * aggregate-out.yml, db-aggregate.yml) and the manual describes them
 * (https://www.mongodb.com/docs/manual/reference/operator/aggregation/).
 */
describe.each(targetKinds)('aggregation through the official driver (%s)', (kind) => {
  let target: Target;
  afterEach(async () => {
    await target?.close();
  });
  const open = async (): Promise<Db> => {
    target = await openTarget(kind);
    return target.client.db(target.dbName);
  };

  it('evaluates expressions in $project, $addFields, $group and $match $expr', async () => {
    const db = await open();
    const coll = db.collection<Doc>('sales');
    await coll.insertMany([
      { _id: 1, item: 'a', price: 10, qty: 2, tags: ['x', 'y'] },
      { _id: 2, item: 'b', price: 5, qty: 10, tags: [] },
      { _id: 3, item: 'a', price: 10, qty: 1, tags: ['z'] },
    ]);
    const rows = await coll
      .aggregate([
        { $match: { $expr: { $gt: [{ $multiply: ['$price', '$qty'] }, 10] } } },
        {
          $project: {
            item: 1,
            total: { $multiply: ['$price', '$qty'] },
            label: { $concat: [{ $toUpper: '$item' }, '-', { $toString: '$qty' }] },
            size: { $size: '$tags' },
            big: { $cond: { if: { $gte: ['$qty', 5] }, then: true, else: false } },
          },
        },
        { $sort: { _id: 1 } },
      ])
      .toArray();
    expect(rows).toEqual([
      { _id: 1, item: 'a', total: 20, label: 'A-2', size: 2, big: false },
      { _id: 2, item: 'b', total: 50, label: 'B-10', size: 0, big: true },
    ]);
    const grouped = await coll
      .aggregate([
        { $group: { _id: '$item', revenue: { $sum: { $multiply: ['$price', '$qty'] } }, n: { $count: {} } } },
        { $sort: { _id: 1 } },
      ])
      .toArray();
    expect(grouped).toEqual([
      { _id: 'a', revenue: 30, n: 2 },
      { _id: 'b', revenue: 50, n: 1 },
    ]);
  });

  it('runs pipeline-style updates ($set with expressions, $unset, $replaceWith)', async () => {
    const db = await open();
    const coll = db.collection<Doc>('pipe');
    await coll.insertMany([
      { _id: 1, x: 1, y: 2, drop: true },
      { _id: 2, x: 5, y: 5, drop: true },
    ]);
    await coll.updateMany({}, [{ $set: { sum: { $add: ['$x', '$y'] } } }, { $unset: 'drop' }]);
    await coll.updateOne({ _id: 2 }, [{ $replaceWith: { $mergeObjects: ['$$ROOT', { replaced: true }] } }]);
    expect(await coll.find().sort({ _id: 1 }).toArray()).toEqual([
      { _id: 1, x: 1, y: 2, sum: 3 },
      { _id: 2, x: 5, y: 5, sum: 10, replaced: true },
    ]);
    await expect(coll.updateOne({ _id: 1 }, [{ $group: { _id: null } }])).rejects.toMatchObject({ code: 72 });
  });

  it('binds let variables for $expr in find, update and delete', async () => {
    const db = await open();
    const coll = db.collection<Doc>('lets');
    await coll.insertMany([
      { _id: 1, name: 'count' },
      { _id: 2, name: 'other' },
    ]);
    const found = await coll.find({ $expr: { $eq: ['$name', '$$target'] } }, { let: { target: 'count' } }).toArray();
    expect(found).toEqual([{ _id: 1, name: 'count' }]);
    await coll.updateOne({ $expr: { $eq: ['$_id', '$$id'] } }, [{ $set: { name: '$$value' } }], {
      let: { id: 2, value: 'renamed' },
    });
    await coll.deleteOne({ $expr: { $eq: ['$name', '$$gone'] } }, { let: { gone: 'count' } });
    expect(await coll.find().toArray()).toEqual([{ _id: 2, name: 'renamed' }]);
  });

  it('applies $[] and $[<id>] with arrayFilters', async () => {
    const db = await open();
    const coll = db.collection<{ _id: number; grades: number[]; all: number[] }>('arrays');
    await coll.insertOne({ _id: 1, grades: [95, 102, 90, 150], all: [1, 2] });
    await coll.updateOne(
      { _id: 1 },
      { $set: { 'grades.$[high]': 100 }, $inc: { 'all.$[]': 10 } },
      {
        arrayFilters: [{ high: { $gte: 100 } }],
      },
    );
    expect(await coll.findOne({ _id: 1 })).toEqual({ _id: 1, grades: [95, 100, 90, 100], all: [11, 12] });
    await expect(
      coll.updateOne({ _id: 1 }, { $set: { 'grades.$[nope]': 0 } }, { arrayFilters: [{ unused: 1 }] }),
    ).rejects.toBeDefined();
  });

  it('$out replaces the target collection, $merge merges into it', async () => {
    const db = await open();
    const source = db.collection<Doc>('source');
    await source.insertMany([
      { _id: 1, v: 1 },
      { _id: 2, v: 2 },
    ]);
    await db.collection<Doc>('out').insertOne({ _id: 99, stale: true });
    await source.aggregate([{ $match: { v: { $gte: 1 } } }, { $out: 'out' }]).toArray();
    expect(await db.collection('out').find().sort({ _id: 1 }).toArray()).toEqual([
      { _id: 1, v: 1 },
      { _id: 2, v: 2 },
    ]);
    await db.collection<Doc>('merged').insertOne({ _id: 1, keep: 'me' });
    await source
      .aggregate([{ $project: { v2: { $multiply: ['$v', 2] } } }, { $merge: { into: 'merged', whenMatched: 'merge' } }])
      .toArray();
    expect(await db.collection('merged').find().sort({ _id: 1 }).toArray()).toEqual([
      { _id: 1, keep: 'me', v2: 2 },
      { _id: 2, v2: 4 },
    ]);
  });

  it('collectionless aggregates: $documents and $listLocalSessions', async () => {
    const db = await open();
    const docs = await db.aggregate([{ $documents: [{ x: 1 }, { x: 2 }] }, { $match: { x: 2 } }]).toArray();
    expect(docs).toEqual([{ x: 2 }]);
    const sessions = await db
      .aggregate([{ $listLocalSessions: {} }, { $limit: 1 }, { $project: { _id: 0, seen: { $literal: true } } }])
      .toArray();
    expect(sessions).toEqual([{ seen: true }]);
  });

  it('$lookup, $unwind and $facet', async () => {
    const db = await open();
    await db.collection<Doc>('orders').insertMany([
      { _id: 1, item: 'a', qty: 2 },
      { _id: 2, item: 'b', qty: 1 },
    ]);
    await db.collection<Doc>('items').insertMany([
      { _id: 'a', tags: ['red', 'big'] },
      { _id: 'b', tags: ['blue'] },
    ]);
    const rows = await db
      .collection('orders')
      .aggregate([
        { $lookup: { from: 'items', localField: 'item', foreignField: '_id', as: 'info' } },
        { $unwind: '$info' },
        { $unwind: '$info.tags' },
        { $facet: { count: [{ $count: 'n' }], tags: [{ $group: { _id: null, all: { $push: '$info.tags' } } }] } },
      ])
      .toArray();
    expect(rows).toEqual([{ count: [{ n: 3 }], tags: [{ _id: null, all: ['red', 'big', 'blue'] }] }]);
  });

  it('refuses an unknown stage with 40324 and an unknown expression with 168', async () => {
    const db = await open();
    const coll = db.collection<Doc>('errors');
    await coll.insertOne({ x: 1 });
    await expect(coll.aggregate([{ $nope: {} }]).toArray()).rejects.toMatchObject({ code: 40324 });
    await expect(coll.aggregate([{ $project: { y: { $nope: 1 } } }]).toArray()).rejects.toMatchObject({ code: 168 });
  });
});
