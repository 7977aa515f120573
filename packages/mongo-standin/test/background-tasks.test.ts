import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Document } from 'mongodb';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  directClient,
  openStream,
  openTarget,
  printTargetNotice,
  REAL_URI,
  targetKinds,
  waitFor,
  type Target,
} from './support.js';

beforeAll(() => printTargetNotice());

/**
 * What a primary does on its own: the TTL monitor (https://www.mongodb.com/docs/manual/core/index-ttl/, every
 * `ttlMonitorSleepSecs`, 60 s by default) and the periodic no-op writer (`periodicNoopIntervalSecs`, 10 s by
 * default, https://www.mongodb.com/docs/manual/reference/parameters/#mongodb-parameter-param.periodicNoopIntervalSecs).
 */
describe.each(targetKinds)('background tasks of the primary (%s)', (kind) => {
  const faultTest = it.skipIf(kind === 'real');
  let target: Target;
  afterEach(async () => {
    await target?.close();
  });

  it("reports mongod's defaults through getParameter: ttlMonitorSleepSecs 60, periodicNoopIntervalSecs 10", async () => {
    target = await openTarget(kind);
    const admin = target.client.db('admin');
    expect(await admin.command({ getParameter: 1, ttlMonitorSleepSecs: 1 })).toMatchObject({ ttlMonitorSleepSecs: 60 });
    expect(await admin.command({ getParameter: 1, periodicNoopIntervalSecs: 1 })).toMatchObject({
      periodicNoopIntervalSecs: 10,
    });
  });

  faultTest(
    'the TTL monitor reads the TTL index, not the collection: only expired documents are examined',
    async () => {
      target = await openTarget(kind, { ttlMonitorIntervalMs: 50 });
      const mongo = target.standIn!;
      const coll = target.client.db(target.dbName).collection('sessions');
      await coll.createIndex({ at: 1 }, { expireAfterSeconds: 60 });
      const fresh = Array.from({ length: 5_000 }, (_, i) => ({ i, at: new Date() }));
      const expired = Array.from({ length: 200 }, (_, i) => ({ i, at: new Date(0), expired: true }));
      await coll.insertMany([...fresh, ...expired]);
      await waitFor('the expired documents to be deleted', () => mongo.counters.ttlDeletes === 200);
      expect(await coll.countDocuments()).toBe(5_000);
      expect(await coll.countDocuments({ expired: true })).toBe(0);
      expect(mongo.counters.ttlEntriesExamined).toBe(200);
    },
  );

  faultTest('the TTL monitor yields between batches instead of holding the event loop for a whole pass', async () => {
    target = await openTarget(kind, { ttlMonitorIntervalMs: 50 });
    const mongo = target.standIn!;
    const coll = target.client.db(target.dbName).collection('sessions');
    await coll.createIndex({ at: 1 }, { expireAfterSeconds: 1 });
    await coll.insertMany(Array.from({ length: 3_000 }, (_, i) => ({ i, at: new Date(0) })));
    const seen = new Set<number>();
    while (mongo.counters.ttlDeletes < 3_000) {
      seen.add(mongo.counters.ttlDeletes);
      await nextTurn();
    }
    // Turns of the event loop ran while the pass was part-way through.
    expect([...seen].some((n) => n > 0 && n < 3_000)).toBe(true);
  });

  faultTest(
    'TTL deletes happen on the primary and replicate; after a failover the new primary runs the monitor',
    async () => {
      target = await openTarget(kind, { members: 3, ttlMonitorIntervalMs: 50 });
      const mongo = target.standIn!;
      const coll = target.client.db(target.dbName).collection('sessions');
      await coll.createIndex({ at: 1 }, { expireAfterSeconds: 1 });
      await coll.insertOne({ n: 1, at: new Date(0) });
      await waitFor('the first TTL delete', () => mongo.counters.ttlDeletes === 1);
      mongo.faults.failover({ electionMs: 50, to: 1 });
      await coll.insertOne({ n: 2, at: new Date(0) });
      expect(mongo.primary).toBe(1);
      await waitFor('the new primary to delete it', () => mongo.counters.ttlDeletes === 2);
      for (const member of mongo.members) {
        const client = directClient(member.address);
        try {
          await waitFor(
            'the delete to reach every member',
            async () => (await client.db(target.dbName).collection('sessions').countDocuments()) === 0,
          );
        } finally {
          await client.close();
        }
      }
    },
  );

  it(
    'an idle primary writes a periodic no-op, so an idle change stream’s postBatchResumeToken advances',
    { timeout: 40_000 },
    async () => {
      target = await openTarget(kind, { periodicNoopIntervalMs: 100 });
      const coll = target.client.db(target.dbName).collection('idle');
      const stream = await openStream(() => coll.watch([], { maxAwaitTimeMS: 50 }));
      const first = (stream.resumeToken as Document)._data as string;
      // mongod writes one every 10 s: allow three intervals there; the stand-in here writes one every 100 ms.
      await waitFor(
        'the resume token to advance without any write',
        async () => {
          await stream.tryNext();
          return ((stream.resumeToken as Document)._data as string) !== first;
        },
        REAL_URI ? 35_000 : 5_000,
      );
      if (target.standIn) expect(target.standIn.counters.noopWrites).toBeGreaterThan(0);
      await stream.close();
    },
  );
});
