import { afterEach, describe, expect, it } from 'vitest';
import { openTarget, type Target } from './support.js';

/**
 * The version the stand-in claims, consistently: buildInfo 7.0, wire version 21 (MongoDB 7.0 in the
 * wire-version feature list of the specifications repository), featureCompatibilityVersion 7.0. Spec tests'
 * runOnRequirements (minServerVersion/maxServerVersion) then select exactly the 7.0 behaviours the stand-in
 * implements; 8.0 features (client bulkWrite, update sort, ...) are refused as 7.0 refuses them. Stand-in only:
 * a real server reports its own version.
 */
describe('server version claims', () => {
  let target: Target;
  afterEach(async () => {
    await target?.close();
  });

  it('reports 7.0 everywhere a driver or a test runner looks', async () => {
    target = await openTarget('stand-in');
    const admin = target.client.db('admin');
    const build = await admin.command({ buildinfo: 1 }); // the alias drivers send
    expect(build.version).toMatch(/^7\.0\./);
    expect(build.versionArray.slice(0, 2)).toEqual([7, 0]);
    const hello = await admin.command({ hello: 1 });
    expect(hello.maxWireVersion).toBe(21);
    const fcv = await admin.command({ getParameter: 1, featureCompatibilityVersion: 1 });
    expect(fcv.featureCompatibilityVersion.version).toBe('7.0');
    // An 8.0 feature is refused the way 7.0 refuses it: the update statement's sort is an unknown field.
    const coll = target.client.db(target.dbName).collection('v');
    await expect(
      target.client
        .db(target.dbName)
        .command({ update: 'v', updates: [{ q: {}, u: { $set: { a: 1 } }, sort: { a: 1 } }] }),
    ).rejects.toMatchObject({ code: 40415 });
    expect(await coll.countDocuments()).toBe(0);
  });

  it('checks Stable API parameters as 7.0 does (versioned-api spec tests)', async () => {
    target = await openTarget('stand-in');
    const db = target.client.db(target.dbName);
    await expect(db.command({ ping: 1, apiStrict: true })).rejects.toMatchObject({ code: 322 }); // APIVersionError
    await expect(db.command({ ping: 1, apiVersion: '2' })).rejects.toMatchObject({ code: 322 });
    expect(await db.command({ ping: 1, apiVersion: '1', apiStrict: true })).toMatchObject({ ok: 1 });
    await expect(db.command({ distinct: 'v', key: 'a', apiVersion: '1', apiStrict: true })).rejects.toMatchObject({
      code: 323,
    }); // APIStrictError: distinct is not in API Version 1
  });
});
