import { Long, ObjectId } from 'bson';
import { describe, expect, it } from 'vitest';
import { compileFilter } from '../src/query/match.js';
import { applyUpdate } from '../src/query/update.js';
import { describeUpdate } from '../src/query/update-description.js';
import { canonicalKey, compareValues } from '../src/query/values.js';

const matches = (filter: object, doc: object) => compileFilter(filter)(doc);

describe('query semantics (MongoDB rules the driver tests do not reach)', () => {
  it('matches null against null and missing fields, but not against other values', () => {
    expect(matches({ a: null }, {})).toBe(true);
    expect(matches({ a: null }, { a: null })).toBe(true);
    expect(matches({ a: null }, { a: 0 })).toBe(false);
    expect(matches({ a: { $ne: null } }, { a: 0 })).toBe(true);
    expect(matches({ a: { $exists: true } }, { a: null })).toBe(true);
  });

  it('walks arrays of documents on dotted paths and matches array elements implicitly', () => {
    const doc = {
      items: [
        { sku: 'a', qty: 1 },
        { sku: 'b', qty: 5 },
      ],
    };
    expect(matches({ 'items.sku': 'b' }, doc)).toBe(true);
    expect(matches({ 'items.qty': { $gt: 4 } }, doc)).toBe(true);
    expect(matches({ 'items.1.sku': 'b' }, doc)).toBe(true);
    expect(matches({ items: { $elemMatch: { sku: 'a', qty: { $gt: 2 } } } }, doc)).toBe(false);
    expect(matches({ 'items.sku': { $nin: ['a'] } }, doc)).toBe(false);
  });

  it('compares only within a type bracket, and numbers across int/long/double', () => {
    expect(matches({ a: { $gt: 1 } }, { a: 'zzz' })).toBe(false);
    expect(matches({ a: 5 }, { a: Long.fromNumber(5) })).toBe(true);
    expect(canonicalKey(5)).toBe(canonicalKey(Long.fromNumber(5)));
    expect(compareValues(null, 0)).toBeLessThan(0);
    expect(compareValues(new ObjectId(), true)).toBeLessThan(0);
  });

  it('rejects unknown operators with BadValue, as mongod does', () => {
    expect(() => compileFilter({ a: { $foo: 1 } })).toThrow(
      expect.objectContaining({ code: 2, message: 'unknown operator: $foo' }),
    );
    expect(() => compileFilter({ $where: 'true' })).toThrow(expect.objectContaining({ code: 2 }));
    expect(() => compileFilter({ a: { $in: 5 } })).toThrow(expect.objectContaining({ code: 2 }));
  });

  it('describes an operator update as mongod 7.0 logs it ($v: 2 delta), without touching the input', () => {
    // https://www.mongodb.com/docs/manual/reference/change-events/update/ — a plain $push is logged element
    // by element, $set at its path, $unset as a removed field.
    const before = { _id: 1, a: { b: 1 }, c: [1], gone: true };
    const outcome = applyUpdate(
      before,
      { $set: { 'a.b': 2 }, $push: { c: 2 }, $unset: { gone: '' } },
      { inserting: false },
    );
    expect(outcome.doc).toEqual({ _id: 1, a: { b: 2 }, c: [1, 2] });
    expect(describeUpdate(before, outcome.doc, outcome.log)).toEqual({
      updatedFields: { 'a.b': 2, 'c.1': 2 },
      removedFields: ['gone'],
      truncatedArrays: [],
      disambiguatedPaths: {}, // an array index alone does not make a path ambiguous
    });
    expect(before).toEqual({ _id: 1, a: { b: 1 }, c: [1], gone: true });
  });

  it('refuses positional update paths instead of writing a field literally named $', () => {
    expect(() => applyUpdate({ _id: 1, a: [1] }, { $set: { 'a.$': 2 } }, { inserting: false })).toThrow(
      expect.objectContaining({ code: 2 }),
    );
  });
});
