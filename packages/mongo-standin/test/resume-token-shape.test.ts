import { Long, ObjectId, Timestamp, UUID } from 'bson';
import { type Document } from 'mongodb';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { decodeKeyString, encodeKeyString } from '../src/keystring.js';
import { eventTokenData, parseToken, tokenData, TokenKind } from '../src/resume-token.js';
import { compareValues } from '../src/query/values.js';
import { collectEvents, openStream, openTarget, printTargetNotice, targetKinds, type Target } from './support.js';

beforeAll(printTargetNotice);

/**
 * Resume tokens in mongod's shape (src/mongo/db/pipeline/resume_token.cpp): `_data` is the upper-case hex of
 * a KeyString of [clusterTime, version 2, tokenType (0 high-water mark, 128 event), txnOpIndex,
 * fromInvalidate, collection UUID, { operationType, documentKey }]; KeyString order is value order, so tokens
 * compare as strings in stream order.
 */
describe('KeyString resume tokens (unit)', () => {
  it('round-trips the values resume tokens hold', () => {
    const values = [
      new Timestamp({ t: 1_700_000_000, i: 7 }),
      2,
      128,
      0,
      true,
      new UUID('00112233-4455-6677-8899-aabbccddeeff'),
      { operationType: 'insert', documentKey: { _id: new ObjectId('0123456789abcdef01234567'), n: -300, s: 'a\0b' } },
      Long.fromString('9007199254740993'),
    ];
    const decoded = decodeKeyString(encodeKeyString(values));
    expect(decoded[0]).toEqual(values[0]);
    expect(decoded.slice(1, 5)).toEqual([2, 128, 0, true]);
    expect((decoded[5] as UUID).toHexString()).toBe('00112233-4455-6677-8899-aabbccddeeff');
    expect(decoded[6]).toEqual(values[6]);
    expect((decoded[7] as Long).toString()).toBe('9007199254740993');
  });

  it('sorts as the values sort: numbers, strings, cluster times', () => {
    const numbers = [
      -70000.5,
      -70000,
      -300,
      -1.25,
      -1,
      -0.5,
      0,
      0.5,
      1,
      1.75,
      2,
      255,
      256,
      70000,
      70000.25,
      2 ** 40,
      2 ** 60,
    ];
    const strings = ['', 'a', 'a\0', 'ab', 'b', 'é'];
    for (const list of [numbers, strings]) {
      const encoded = list.map((v) => encodeKeyString([v]));
      for (let i = 1; i < list.length; i++) {
        expect(Math.sign(compareValues(list[i - 1], list[i]))).toBe(-1);
        expect(encoded[i - 1]! < encoded[i]!).toBe(true);
      }
    }
  });

  it('orders a time: high-water mark < its events < an invalidate < the next time', () => {
    const ts = { t: 1_700_000_000, i: 3 };
    const uuid = new UUID();
    const hwm = tokenData(ts, TokenKind.HighWaterMark);
    const drop = eventTokenData(ts, { uuid, operationType: 'drop' });
    const invalidate = eventTokenData(ts, { uuid, operationType: 'drop', fromInvalidate: true });
    const next = tokenData({ t: ts.t, i: ts.i + 1 }, TokenKind.HighWaterMark);
    expect([hwm, drop, invalidate, next]).toEqual([...[hwm, drop, invalidate, next]].sort());
    expect(parseToken({ _data: hwm }).kind).toBe(TokenKind.HighWaterMark);
    expect(parseToken({ _data: drop }).kind).toBe(TokenKind.Event);
    expect(parseToken({ _data: invalidate }).kind).toBe(TokenKind.Invalidate);
  });

  it('builds event tokens exactly as the generic KeyString encoder would', () => {
    const ts = new Timestamp({ t: 1_700_000_000, i: 9 });
    const uuid = new UUID();
    for (const documentKey of [{ _id: new ObjectId() }, { _id: 7 }, { _id: 'a', shard: 2 }]) {
      expect(eventTokenData(ts, { uuid, operationType: 'insert', documentKey })).toBe(
        encodeKeyString([ts, 2, 128, 0, false, uuid, { operationType: 'insert', documentKey }]),
      );
    }
  });

  it('refuses malformed tokens with mongod codes', () => {
    expect(() => parseToken({ _data: 12 })).toThrow(expect.objectContaining({ code: 40647 }));
    expect(() => parseToken({ _data: 'xyz' })).toThrow(expect.objectContaining({ code: 9 }));
    expect(() => parseToken({ _data: encodeKeyString([new Timestamp({ t: 1, i: 1 }), 9]) })).toThrow(
      expect.objectContaining({ code: 50795 }),
    );
  });
});

describe.each(targetKinds)('resume tokens on the wire (%s)', (kind) => {
  let target: Target;
  afterEach(async () => {
    await target?.close();
  });

  it('event tokens are mongod-sized hex, strictly increasing; postBatchResumeToken is a high-water mark past filtered writes', async () => {
    target = await openTarget(kind);
    const coll = target.client.db(target.dbName).collection('tokens');
    const stream = await openStream(() =>
      coll.watch([{ $match: { 'fullDocument.keep': true } }], { maxAwaitTimeMS: 50 }),
    );
    await coll.insertMany([{ keep: true }, { keep: true }, { keep: false }]);
    const events = await collectEvents(stream, 2);
    const tokens = events.map((e) => (e._id as Document)._data as string);
    for (const token of tokens) {
      expect(token).toMatch(/^82[0-9A-F]+$/);
      expect(token.length).toBeGreaterThanOrEqual(90);
      expect(token.length).toBeLessThanOrEqual(200);
    }
    expect(tokens[0]! < tokens[1]!).toBe(true);
    // The filtered-out third insert moves the postBatchResumeToken to a high-water mark past it.
    let pbrt = stream.resumeToken as Document;
    for (let i = 0; i < 50 && pbrt._data === tokens[1]; i++) {
      await stream.tryNext();
      pbrt = stream.resumeToken as Document;
    }
    expect(pbrt._data > tokens[1]!).toBe(true);
    expect((pbrt._data as string).length).toBeLessThan(tokens[1]!.length);
    await stream.close();
  });
});
