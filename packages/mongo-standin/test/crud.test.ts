import { MongoClient, MongoServerError, ObjectId } from 'mongodb';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  clientOptions,
  openTarget,
  printTargetNotice,
  REAL_URI,
  targetKinds,
  waitFor,
  type Target,
} from './support.js';

beforeAll(printTargetNotice);

// Shows up as "skipped" in every run without MONGODB_URI, so nobody mistakes a stand-in-only run for a fidelity check.
it.skipIf(REAL_URI === undefined)(
  'fidelity run: MONGODB_URI points at a replica set (set MONGODB_URI to enable)',
  async () => {
    const client = new MongoClient(REAL_URI!, clientOptions);
    try {
      const hello = await client.db('admin').command({ hello: 1 });
      expect(hello.setName, 'change streams need a replica set').toEqual(expect.any(String));
    } finally {
      await client.close();
    }
  },
);

describe.each(targetKinds)('CRUD through the official driver (%s)', (kind) => {
  let target: Target;
  afterEach(async () => {
    await target?.close();
  });
  const open = async () => {
    target = await openTarget(kind, { ttlMonitorIntervalMs: 50 });
    return target.client.db(target.dbName);
  };

  it('inserts many documents and finds them with comparison operators, sort, skip, limit and projection', async () => {
    const db = await open();
    const people = db.collection('people');
    const result = await people.insertMany([
      { name: 'ann', age: 31, tags: ['a', 'b'], address: { city: 'Oslo' } },
      { name: 'bob', age: 25, tags: ['b'], address: { city: 'Rome' } },
      { name: 'cid', age: 42, address: { city: 'Oslo' } },
      { name: 'dee', age: 19, tags: [] },
    ]);
    expect(result.insertedCount).toBe(4);

    const names = async (filter: object, options: object = {}) =>
      (await people.find(filter, { ...options, projection: { _id: 0, name: 1 } }).toArray()).map((d) => d.name);
    expect(await names({ age: { $gt: 25, $lte: 42 } }, { sort: { age: 1 } })).toEqual(['ann', 'cid']);
    expect(await names({ age: { $gte: 25 } }, { sort: { age: -1 }, skip: 1, limit: 2 })).toEqual(['ann', 'bob']);
    expect(await names({ 'address.city': 'Oslo' }, { sort: { name: 1 } })).toEqual(['ann', 'cid']);
    expect(await names({ tags: 'b' }, { sort: { name: 1 } })).toEqual(['ann', 'bob']);
    expect(await names({ name: { $in: ['bob', 'dee'] } }, { sort: { name: 1 } })).toEqual(['bob', 'dee']);
    expect(await names({ name: { $nin: ['bob', 'dee'] }, age: { $ne: 42 } })).toEqual(['ann']);
    expect(await names({ tags: { $exists: false } })).toEqual(['cid']);
    expect(await names({ $or: [{ age: { $lt: 20 } }, { name: 'cid' }] }, { sort: { age: 1 } })).toEqual(['dee', 'cid']);
    expect(await names({ $and: [{ age: { $gt: 20 } }, { age: { $lt: 40 } }] }, { sort: { name: -1 } })).toEqual([
      'bob',
      'ann',
    ]);
    expect(await names({ age: { $not: { $gt: 30 } } }, { sort: { name: 1 } })).toEqual(['bob', 'dee']);

    const projected = await people.findOne({ name: 'ann' }, { projection: { 'address.city': 1, _id: 0 } });
    expect(projected).toEqual({ address: { city: 'Oslo' } });
    const excluded = await people.findOne({ name: 'bob' }, { projection: { tags: 0, address: 0, _id: 0 } });
    expect(excluded).toEqual({ name: 'bob', age: 25 });
  });

  it('pages through a large result with getMore batches', async () => {
    const db = await open();
    const items = db.collection('items');
    await items.insertMany(Array.from({ length: 250 }, (_, n) => ({ n })));
    const all = await items.find({}, { batchSize: 40, sort: { n: 1 } }).toArray();
    expect(all.map((d) => d.n)).toEqual(Array.from({ length: 250 }, (_, n) => n));
    const cursor = items.find({ n: { $lt: 100 } }, { batchSize: 10 });
    await cursor.next();
    await cursor.close(); // killCursors on an open cursor
    expect(await items.countDocuments({ n: { $gte: 200 } })).toBe(50);
    expect(await items.estimatedDocumentCount()).toBe(250);
  });

  it('applies update operators, upserts and replacements', async () => {
    const db = await open();
    const counters = db.collection('counters');
    await counters.insertOne({ _id: 'a' as unknown as ObjectId, hits: 1, meta: { keep: true, drop: 1 } });
    const updated = await counters.updateOne(
      { _id: 'a' as unknown as ObjectId },
      { $inc: { hits: 2 }, $set: { 'meta.seen': true }, $unset: { 'meta.drop': '' } },
    );
    expect(updated.matchedCount).toBe(1);
    expect(updated.modifiedCount).toBe(1);
    expect(await counters.findOne({ _id: 'a' as unknown as ObjectId })).toEqual({
      _id: 'a',
      hits: 3,
      meta: { keep: true, seen: true },
    });

    const noop = await counters.updateOne({ _id: 'a' as unknown as ObjectId }, { $set: { hits: 3 } });
    expect(noop.modifiedCount).toBe(0);

    const upsert = await counters.updateOne(
      { room: 'r1' },
      { $setOnInsert: { created: 1 }, $inc: { hits: 1 } },
      { upsert: true },
    );
    expect(upsert.upsertedCount).toBe(1);
    const again = await counters.updateOne(
      { room: 'r1' },
      { $setOnInsert: { created: 2 }, $inc: { hits: 1 } },
      { upsert: true },
    );
    expect(again.upsertedCount).toBe(0);
    expect(await counters.findOne({ room: 'r1' }, { projection: { _id: 0 } })).toEqual({
      room: 'r1',
      created: 1,
      hits: 2,
    });

    const many = await counters.updateMany({ hits: { $gte: 2 } }, { $push: { log: 'x' } as never });
    expect(many.modifiedCount).toBe(2);

    await counters.replaceOne({ room: 'r1' }, { room: 'r1', replaced: true });
    expect(await counters.findOne({ room: 'r1' }, { projection: { _id: 0 } })).toEqual({ room: 'r1', replaced: true });

    await expect(counters.updateOne({ _id: 'a' as unknown as ObjectId }, { $set: { _id: 'b' } })).rejects.toMatchObject(
      { code: 66 },
    );
    await expect(counters.updateOne({ _id: 'a' as unknown as ObjectId }, { $inc: { meta: 1 } })).rejects.toMatchObject({
      code: 14,
    });
  });

  it('findOneAndUpdate / findOneAndDelete with new, upsert and sort', async () => {
    const db = await open();
    const jobs = db.collection('jobs');
    await jobs.insertMany([
      { p: 2, state: 'new' },
      { p: 1, state: 'new' },
      { p: 3, state: 'new' },
    ]);
    const claimed = await jobs.findOneAndUpdate(
      { state: 'new' },
      { $set: { state: 'taken' } },
      { sort: { p: 1 }, returnDocument: 'after' },
    );
    expect(claimed).toMatchObject({ p: 1, state: 'taken' });
    const before = await jobs.findOneAndUpdate({ p: 2 }, { $set: { state: 'taken' } }, { returnDocument: 'before' });
    expect(before).toMatchObject({ p: 2, state: 'new' });
    const upserted = await jobs.findOneAndUpdate(
      { p: 9 },
      { $set: { state: 'late' } },
      { upsert: true, returnDocument: 'after' },
    );
    expect(upserted).toMatchObject({ p: 9, state: 'late' });
    const removed = await jobs.findOneAndDelete({ state: 'taken' }, { sort: { p: -1 } });
    expect(removed).toMatchObject({ p: 2 });
    expect(await jobs.findOneAndUpdate({ p: 100 }, { $set: { x: 1 } })).toBeNull();
    const deleted = await jobs.deleteMany({ state: { $in: ['taken', 'late'] } });
    expect(deleted.deletedCount).toBe(2);
    expect((await jobs.find().toArray()).map((d) => d.p)).toEqual([3]);
  });

  it('aggregates with $match, $sort, $limit and $count', async () => {
    const db = await open();
    const scores = db.collection('scores');
    await scores.insertMany([
      { s: 5, g: 'a' },
      { s: 9, g: 'b' },
      { s: 7, g: 'a' },
      { s: 1, g: 'b' },
    ]);
    const top = await scores
      .aggregate([{ $match: { s: { $gt: 2 } } }, { $sort: { s: -1 } }, { $limit: 2 }, { $project: { _id: 0, s: 1 } }])
      .toArray();
    expect(top).toEqual([{ s: 9 }, { s: 7 }]);
    expect(await scores.aggregate([{ $match: { g: 'a' } }, { $count: 'n' }]).toArray()).toEqual([{ n: 2 }]);
  });

  it('enforces unique indexes with E11000 (code 11000, keyPattern, keyValue)', async () => {
    const db = await open();
    const users = db.collection('users');
    const name = await users.createIndex({ email: 1 }, { unique: true });
    expect(name).toBe('email_1');
    await users.insertOne({ email: 'a@x' });
    const err = (await users.insertOne({ email: 'a@x' }).catch((e: unknown) => e)) as MongoServerError;
    expect(err).toBeInstanceOf(MongoServerError);
    expect(err.code).toBe(11000);
    expect(err.message).toMatch(
      /^E11000 duplicate key error collection: .*users index: email_1 dup key: \{ email: "a@x" \}/,
    );
    expect(err.errorResponse.keyPattern).toEqual({ email: 1 });
    expect(err.errorResponse.keyValue).toEqual({ email: 'a@x' });

    // ordered insertMany stops at the duplicate; unordered carries on
    await expect(users.insertMany([{ email: 'b@x' }, { email: 'a@x' }, { email: 'c@x' }])).rejects.toMatchObject({
      code: 11000,
    });
    expect(await users.countDocuments({ email: 'c@x' })).toBe(0);
    await expect(
      users.insertMany([{ email: 'd@x' }, { email: 'a@x' }, { email: 'e@x' }], { ordered: false }),
    ).rejects.toMatchObject({ code: 11000 });
    expect(await users.countDocuments({ email: 'e@x' })).toBe(1);

    await users.insertOne({ email: 'f@x' });
    await expect(users.updateOne({ email: 'f@x' }, { $set: { email: 'a@x' } })).rejects.toMatchObject({ code: 11000 });
    await expect(users.findOneAndUpdate({ email: 'f@x' }, { $set: { email: 'a@x' } })).rejects.toMatchObject({
      code: 11000,
    });

    const indexes = await users.indexes();
    expect(indexes.map((i) => i.name)).toEqual(['_id_', 'email_1']);
    expect(indexes[1]).toMatchObject({ key: { email: 1 }, unique: true });
    await expect(
      db
        .collection('dups')
        .insertMany([{ k: 1 }, { k: 1 }])
        .then(() => db.collection('dups').createIndex({ k: 1 }, { unique: true })),
    ).rejects.toMatchObject({ code: 11000 });
  });

  it(
    'expires documents through a TTL index',
    async () => {
      const db = await open();
      const sessions = db.collection('sessions');
      await sessions.createIndex({ at: 1 }, { expireAfterSeconds: 0 });
      await sessions.insertMany([
        { k: 'old', at: new Date(Date.now() - 60_000) },
        { k: 'future', at: new Date(Date.now() + 3_600_000) },
        { k: 'no-date' },
      ]);
      // mongod's TTL monitor runs every 60 s, so a real server gets a longer deadline.
      await waitFor(
        'the expired document to be reaped',
        async () => (await sessions.countDocuments({ k: 'old' })) === 0,
        kind === 'real' ? 75_000 : 5_000,
      );
      expect((await sessions.find({}, { sort: { k: 1 } }).toArray()).map((d) => d.k)).toEqual(['future', 'no-date']);
      if (target.standIn) expect(target.standIn.counters.ttlDeletes).toBe(1);
    },
    kind === 'real' ? 90_000 : undefined,
  );

  it('rolls a capped collection over by max and size', async () => {
    const db = await open();
    const log = await db.createCollection('log', { capped: true, size: 4096, max: 3 });
    for (let n = 1; n <= 5; n++) await log.insertOne({ n });
    expect((await log.find().toArray()).map((d) => d.n)).toEqual([3, 4, 5]);
    const bySize = await db.createCollection('big', { capped: true, size: 4096 });
    for (let n = 1; n <= 10; n++) await bySize.insertOne({ n, pad: 'x'.repeat(1000) });
    const left = (await bySize.find().toArray()).map((d) => d.n);
    expect(left.length).toBeLessThan(5);
    expect(left).toEqual(Array.from({ length: left.length }, (_, i) => 10 - left.length + 1 + i));
    const info = await db.listCollections({ name: 'log' }, { nameOnly: false }).toArray();
    expect(info[0]?.options).toMatchObject({ capped: true, max: 3 });
  });

  it('lists, drops collections and databases', async () => {
    const db = await open();
    await db.collection('a').insertOne({ x: 1 });
    await db.createCollection('b');
    const names = (await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name).sort();
    expect(names).toEqual(['a', 'b']);
    expect(await db.collection('a').drop()).toBe(true);
    expect((await db.listCollections().toArray()).map((c) => c.name)).toEqual(['b']);
    const dbs = await target.client.db('admin').admin().listDatabases();
    expect(dbs.databases.map((d) => d.name)).toContain(target.dbName);
    await db.dropDatabase();
    expect(await db.listCollections().toArray()).toEqual([]);
    await expect(db.collection('missing').indexes()).rejects.toMatchObject({ code: 26 });
  });

  it('answers unknown commands with CommandNotFound (59) and accepts write concern majority', async () => {
    const db = await open();
    await expect(db.command({ noSuchCommand: 1 })).rejects.toMatchObject({ code: 59, codeName: 'CommandNotFound' });
    const res = await db.collection('w').insertOne({ a: 1 }, { writeConcern: { w: 'majority', wtimeoutMS: 1000 } });
    expect(res.acknowledged).toBe(true);
    expect(await db.command({ ping: 1 })).toMatchObject({ ok: 1 });
    const info = await db.admin().command({ hello: 1 });
    expect(info).toMatchObject({
      isWritablePrimary: true,
      setName: expect.any(String),
      maxBsonObjectSize: 16 * 1024 * 1024,
    });
  });
});
