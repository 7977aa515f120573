import type { Db } from 'mongodb';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openTarget, printTargetNotice, targetKinds, waitFor, type Target } from './support.js';

beforeAll(printTargetNotice);

describe.each(targetKinds)('collMod on indexes, through the official driver (%s)', (kind) => {
  let target: Target;
  afterEach(async () => {
    await target?.close();
  });
  const open = async (): Promise<Db> => {
    target = await openTarget(kind, { ttlMonitorIntervalMs: 50 });
    return target.client.db(target.dbName);
  };
  const failure = (promise: Promise<unknown>) =>
    promise.then(
      () => expect.unreachable('collMod should have failed'),
      (error: { code?: number; codeName?: string; errmsg?: string }) => ({
        code: error.code,
        codeName: error.codeName,
        errmsg: error.errmsg,
      }),
    );

  it(
    "changes a TTL index's expireAfterSeconds by name or key pattern, and the TTL monitor applies it",
    async () => {
      const db = await open();
      const sessions = db.collection('sessions');
      await sessions.createIndex({ at: 1 }, { name: 'at_ttl', expireAfterSeconds: 3600 });
      await sessions.insertMany([
        { k: 'two hours old', at: new Date(Date.now() - 2 * 3_600_000) },
        { k: 'a minute old', at: new Date(Date.now() - 60_000) },
      ]);
      // The older document going proves the monitor has run with the old expiry and kept the younger one.
      const monitorDeadline = kind === 'real' ? 75_000 : 5_000; // mongod's TTL monitor runs every 60 s
      await waitFor(
        'the two-hour-old document to expire',
        async () => (await sessions.countDocuments()) === 1,
        monitorDeadline,
      );
      expect((await sessions.findOne())?.k).toBe('a minute old');

      const byName = await db.command({ collMod: 'sessions', index: { name: 'at_ttl', expireAfterSeconds: 30 } });
      expect(byName).toMatchObject({ ok: 1, expireAfterSeconds_old: 3600, expireAfterSeconds_new: 30 });
      const [, ttl] = await sessions.listIndexes().toArray();
      expect(ttl).toMatchObject({ name: 'at_ttl', key: { at: 1 }, expireAfterSeconds: 30 });
      await waitFor(
        'the minute-old document to expire under the new expiry',
        async () => (await sessions.countDocuments()) === 0,
        monitorDeadline,
      );

      const byKey = await db.command({
        collMod: 'sessions',
        index: { keyPattern: { at: 1 }, expireAfterSeconds: 7200 },
      });
      expect(byKey).toMatchObject({ ok: 1, expireAfterSeconds_old: 30, expireAfterSeconds_new: 7200 });
      await sessions.insertOne({ k: 'fresh', at: new Date() });
      expect(await sessions.countDocuments()).toBe(1);
    },
    kind === 'real' ? 160_000 : undefined,
  );

  it('turns a plain single-field index into a TTL index and hides or unhides an index', async () => {
    const db = await open();
    const events = db.collection('events');
    await events.createIndex({ at: 1 });
    expect(await db.command({ collMod: 'events', index: { name: 'at_1', expireAfterSeconds: 60 } })).toMatchObject({
      ok: 1,
      expireAfterSeconds_new: 60,
    });
    const hidden = await db.command({ collMod: 'events', index: { keyPattern: { at: 1 }, hidden: true } });
    expect(hidden).toMatchObject({ ok: 1, hidden_old: false, hidden_new: true });
    expect((await events.listIndexes().toArray())[1]).toMatchObject({
      name: 'at_1',
      expireAfterSeconds: 60,
      hidden: true,
    });
    const again = await db.command({ collMod: 'events', index: { name: 'at_1', hidden: true } });
    expect(again).not.toHaveProperty('hidden_new'); // hiding a hidden index is a no-op
    await db.command({ collMod: 'events', index: { name: 'at_1', hidden: false } });
    expect((await events.listIndexes().toArray())[1]).not.toHaveProperty('hidden');
  });

  it("fails with MongoDB's error shapes for a missing collection or index and for bad requests", async () => {
    const db = await open();
    const ns = `${db.databaseName}.sessions`;
    expect(
      await failure(db.command({ collMod: 'sessions', index: { name: 'at_ttl', expireAfterSeconds: 1 } })),
    ).toEqual({
      code: 26,
      codeName: 'NamespaceNotFound',
      errmsg: 'ns does not exist',
    });

    const sessions = db.collection('sessions');
    await sessions.createIndex({ at: 1 }, { name: 'at_ttl', expireAfterSeconds: 60 });
    await sessions.createIndex({ a: 1, b: 1 });
    expect(await failure(db.command({ collMod: 'sessions', index: { name: 'nope', expireAfterSeconds: 1 } }))).toEqual({
      code: 27,
      codeName: 'IndexNotFound',
      errmsg: `cannot find index nope for ns ${ns}`,
    });
    expect(
      await failure(db.command({ collMod: 'sessions', index: { keyPattern: { nope: 1 }, expireAfterSeconds: 1 } })),
    ).toEqual({ code: 27, codeName: 'IndexNotFound', errmsg: `cannot find index { nope: 1 } for ns ${ns}` });

    const invalid = async (index: object, errmsg: string) =>
      expect(await failure(db.command({ collMod: 'sessions', index }))).toEqual({
        code: 72,
        codeName: 'InvalidOptions',
        errmsg,
      });
    await invalid(
      { name: 'at_ttl', keyPattern: { at: 1 }, expireAfterSeconds: 1 },
      'Cannot specify both key pattern and name.',
    );
    await invalid({ expireAfterSeconds: 1 }, 'Must specify either index name or key pattern.');
    await invalid({ name: 'at_ttl' }, 'no expireAfterSeconds, hidden, unique, or prepareUnique field');
    await invalid(
      { name: 'at_ttl', expireAfterSeconds: -1 },
      "TTL index 'expireAfterSeconds' option cannot be less than 0",
    );
    await invalid(
      { name: 'a_1_b_1', expireAfterSeconds: 1 },
      'TTL indexes are single-field indexes, compound indexes do not support TTL',
    );
    await invalid({ name: '_id_', expireAfterSeconds: 1 }, 'the _id field does not support TTL indexes');
    expect(await failure(db.command({ collMod: 'sessions', index: { name: '_id_', hidden: true } }))).toMatchObject({
      code: 2,
      codeName: 'BadValue',
    });
    expect(
      await failure(db.command({ collMod: 'sessions', index: { name: 'at_ttl', expireAfterSeconds: 'soon' } })),
    ).toMatchObject({ code: 14, codeName: 'TypeMismatch' });
    expect(
      await failure(db.command({ collMod: 'sessions', index: { name: 'at_ttl', expireAfterSeconds: 1, extra: 1 } })),
    ).toMatchObject({ code: 40415 });
    // Nothing was changed by the failed requests.
    expect((await sessions.listIndexes().toArray())[1]).toMatchObject({ name: 'at_ttl', expireAfterSeconds: 60 });
  });

  it.skipIf(kind === 'real')(
    'refuses collMod options the stand-in does not implement instead of ignoring them',
    async () => {
      const db = await open();
      await db.createCollection('plain');
      expect(await failure(db.command({ collMod: 'plain', dryRun: true }))).toMatchObject({
        code: 72,
        codeName: 'InvalidOptions',
        errmsg: "option 'dryRun' of collMod is not supported by the stand-in",
      });
      expect(await db.command({ collMod: 'plain' })).toMatchObject({ ok: 1 });
    },
  );
});
