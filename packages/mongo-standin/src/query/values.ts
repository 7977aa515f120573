import type { Document } from 'bson';
import { compareStrings } from './collation.js';

/**
 * BSON value semantics: MongoDB's cross-type sort order, numeric equality across int/long/double,
 * canonical keys for identity (`_id`, unique indexes) and cloning of stored documents.
 * https://www.mongodb.com/docs/manual/reference/bson-type-comparison-order/
 */

/** Position of a value's type in MongoDB's comparison order; equal ranks compare by value. */
export const enum TypeRank {
  MinKey = 1,
  Null = 2,
  Number = 3,
  String = 4,
  Object = 5,
  Array = 6,
  BinData = 7,
  ObjectId = 8,
  Boolean = 9,
  Date = 10,
  Timestamp = 11,
  RegExp = 12,
  Code = 13,
  MaxKey = 14,
}

interface BsonTagged {
  _bsontype: string;
}

export function bsonTypeOf(value: unknown): string | undefined {
  if (value !== null && typeof value === 'object' && '_bsontype' in value) {
    return (value as BsonTagged)._bsontype;
  }
  return undefined;
}

export function isPlainObject(value: unknown): value is Document {
  if (value === null || typeof value !== 'object') return false;
  if (Array.isArray(value) || value instanceof Date || value instanceof RegExp) return false;
  if (ArrayBuffer.isView(value)) return false;
  return bsonTypeOf(value) === undefined;
}

export function rankOf(value: unknown): TypeRank {
  if (value === null || value === undefined) return TypeRank.Null;
  switch (typeof value) {
    case 'number':
    case 'bigint':
      return TypeRank.Number;
    case 'string':
      return TypeRank.String;
    case 'boolean':
      return TypeRank.Boolean;
    default:
      break;
  }
  if (Array.isArray(value)) return TypeRank.Array;
  if (value instanceof Date) return TypeRank.Date;
  if (value instanceof RegExp) return TypeRank.RegExp;
  if (ArrayBuffer.isView(value)) return TypeRank.BinData;
  switch (bsonTypeOf(value)) {
    case undefined:
      return TypeRank.Object;
    case 'Long':
    case 'Int32':
    case 'Double':
    case 'Decimal128':
      return TypeRank.Number;
    case 'BSONSymbol':
      return TypeRank.String;
    case 'ObjectId':
      return TypeRank.ObjectId;
    case 'Binary':
      return TypeRank.BinData;
    case 'Timestamp':
      return TypeRank.Timestamp;
    case 'BSONRegExp':
      return TypeRank.RegExp;
    case 'MinKey':
      return TypeRank.MinKey;
    case 'MaxKey':
      return TypeRank.MaxKey;
    case 'Code':
      return TypeRank.Code;
    case 'DBRef':
      return TypeRank.Object;
    default:
      return TypeRank.Object;
  }
}

export function isNumeric(value: unknown): boolean {
  return rankOf(value) === TypeRank.Number;
}

export function toNumber(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  const tag = bsonTypeOf(value);
  if (tag === 'Long') return (value as { toNumber(): number }).toNumber();
  if (tag === 'Int32' || tag === 'Double') return (value as { valueOf(): number }).valueOf();
  if (tag === 'Decimal128') return Number.parseFloat(String(value));
  return Number.NaN;
}

function bytesOf(value: unknown): Uint8Array {
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  const bin = value as { buffer: Uint8Array; position?: number; length?: () => number };
  const len = typeof bin.position === 'number' ? bin.position : bin.buffer.length;
  return bin.buffer.subarray(0, len);
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
  return 0;
}

function cmp<T extends number | string>(a: T, b: T): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Total order over BSON values, MongoDB's. */
export function compareValues(a: unknown, b: unknown): number {
  const ra = rankOf(a);
  const rb = rankOf(b);
  if (ra !== rb) return ra < rb ? -1 : 1;
  switch (ra) {
    case TypeRank.MinKey:
    case TypeRank.MaxKey:
    case TypeRank.Null:
      return 0;
    case TypeRank.Number: {
      const x = toNumber(a);
      const y = toNumber(b);
      if (Number.isNaN(x)) return Number.isNaN(y) ? 0 : -1;
      if (Number.isNaN(y)) return 1;
      return cmp(x, y);
    }
    case TypeRank.String:
      return compareStrings(String(a), String(b));
    case TypeRank.Object:
      return compareDocuments(a as Document, b as Document);
    case TypeRank.Array: {
      const x = a as unknown[];
      const y = b as unknown[];
      for (let i = 0; i < Math.min(x.length, y.length); i++) {
        const c = compareValues(x[i], y[i]);
        if (c !== 0) return c;
      }
      return cmp(x.length, y.length);
    }
    case TypeRank.BinData: {
      const subA = (a as { sub_type?: number }).sub_type ?? 0;
      const subB = (b as { sub_type?: number }).sub_type ?? 0;
      const x = bytesOf(a);
      const y = bytesOf(b);
      if (x.length !== y.length) return cmp(x.length, y.length);
      if (subA !== subB) return cmp(subA, subB);
      return compareBytes(x, y);
    }
    case TypeRank.ObjectId:
      return cmp((a as { toHexString(): string }).toHexString(), (b as { toHexString(): string }).toHexString());
    case TypeRank.Boolean:
      return cmp(Number(a), Number(b));
    case TypeRank.Date:
      return cmp((a as Date).getTime(), (b as Date).getTime());
    case TypeRank.Timestamp: {
      const x = a as { t: number; i: number };
      const y = b as { t: number; i: number };
      return x.t !== y.t ? cmp(x.t, y.t) : cmp(x.i, y.i);
    }
    case TypeRank.RegExp: {
      const x = a as { source: string; flags?: string; pattern?: string; options?: string };
      const y = b as { source: string; flags?: string; pattern?: string; options?: string };
      return cmp(
        `${x.pattern ?? x.source}/${x.options ?? x.flags}`,
        `${y.pattern ?? y.source}/${y.options ?? y.flags}`,
      );
    }
    default:
      return cmp(String(a), String(b));
  }
}

function compareDocuments(a: Document, b: Document): number {
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  for (let i = 0; i < Math.min(ka.length, kb.length); i++) {
    const va = a[ka[i]!];
    const vb = b[kb[i]!];
    const rank = cmp(rankOf(va), rankOf(vb));
    if (rank !== 0) return rank;
    const name = cmp(ka[i]!, kb[i]!);
    if (name !== 0) return name;
    const value = compareValues(va, vb);
    if (value !== 0) return value;
  }
  return cmp(ka.length, kb.length);
}

export function valuesEqual(a: unknown, b: unknown): boolean {
  return compareValues(a, b) === 0;
}

/**
 * A string equal for exactly the values MongoDB considers equal (1, Long(1) and 1.0 share a key).
 * Used for `_id` identity and unique index keys.
 */
export function canonicalKey(value: unknown): string {
  switch (rankOf(value)) {
    case TypeRank.MinKey:
      return 'm';
    case TypeRank.MaxKey:
      return 'M';
    case TypeRank.Null:
      return 'z';
    case TypeRank.Number: {
      const n = toNumber(value);
      return `n${Object.is(n, -0) ? 0 : n}`;
    }
    case TypeRank.String:
      return `s${JSON.stringify(String(value))}`;
    case TypeRank.Array:
      return `[${(value as unknown[]).map(canonicalKey).join(',')}]`;
    case TypeRank.Object:
      return `{${Object.entries(value as Document)
        .map(([k, v]) => `${JSON.stringify(k)}:${canonicalKey(v)}`)
        .join(',')}}`;
    case TypeRank.ObjectId:
      return `o${(value as { toHexString(): string }).toHexString()}`;
    case TypeRank.Boolean:
      return value ? 'T' : 'F';
    case TypeRank.Date:
      return `d${(value as Date).getTime()}`;
    case TypeRank.Timestamp:
      return `t${(value as { t: number }).t}:${(value as { i: number }).i}`;
    case TypeRank.BinData:
      return `x${(value as { sub_type?: number }).sub_type ?? 0}:${Buffer.from(bytesOf(value)).toString('base64')}`;
    case TypeRank.RegExp: {
      const r = value as { source?: string; flags?: string; pattern?: string; options?: string };
      return `r${r.pattern ?? r.source}/${r.options ?? r.flags}`;
    }
    default:
      return `?${String(value)}`;
  }
}

/** Deep copy of plain objects and arrays; BSON value instances are immutable in practice and shared. */
export function cloneValue<T>(value: T): T {
  if (Array.isArray(value)) return value.map(cloneValue) as T;
  if (isPlainObject(value)) {
    const out: Document = {};
    for (const key of Object.keys(value)) out[key] = cloneValue(value[key]);
    return out as T;
  }
  return value;
}
