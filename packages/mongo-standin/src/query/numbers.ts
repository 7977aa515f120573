import { Decimal128, Double, Long } from 'bson';
import { bsonTypeOf, toNumber } from './values.js';

/**
 * BSON numbers with their types kept, as mongod keeps them: int32 + int32 is an int32 (a long on overflow),
 * anything with a long is a long (a double on overflow), anything with a double is a double, anything with a
 * decimal a decimal (https://www.mongodb.com/docs/manual/reference/operator/aggregation/add/ and the $inc
 * page). A whole-number double stays a double (a `Double` instance, which BSON serializes as a double).
 */
export type NumberKind = 'int' | 'long' | 'double' | 'decimal';

const RANK: Record<NumberKind, number> = { int: 0, long: 1, double: 2, decimal: 3 };
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

export function numberKind(value: unknown): NumberKind | undefined {
  if (typeof value === 'number') {
    return Number.isInteger(value) && value >= INT32_MIN && value <= INT32_MAX ? 'int' : 'double';
  }
  if (typeof value === 'bigint') return 'long';
  switch (bsonTypeOf(value)) {
    case 'Int32':
      return 'int';
    case 'Long':
      return 'long';
    case 'Double':
      return 'double';
    case 'Decimal128':
      return 'decimal';
    default:
      return undefined;
  }
}

export function widerKind(a: NumberKind, b: NumberKind): NumberKind {
  return RANK[a] >= RANK[b] ? a : b;
}

/** A value of `kind` holding `n`: int32s overflowing become longs, longs overflowing become doubles. */
export function makeNumber(n: number, kind: NumberKind): unknown {
  switch (kind) {
    case 'int':
      if (Number.isInteger(n) && n >= INT32_MIN && n <= INT32_MAX) return n;
      return Number.isSafeInteger(n) ? Long.fromNumber(n) : asDouble(n);
    case 'long':
      return Number.isSafeInteger(n) ? Long.fromNumber(n) : asDouble(n);
    case 'double':
      return asDouble(n);
    case 'decimal':
      return Decimal128.fromString(Number.isFinite(n) ? String(n) : n > 0 ? 'Infinity' : n < 0 ? '-Infinity' : 'NaN');
  }
}

/** A double that serializes as a double even when it is a whole number. */
export function asDouble(n: number): number | Double {
  return Number.isInteger(n) && n >= INT32_MIN && n <= INT32_MAX ? new Double(n) : n;
}

function asBigInt(value: unknown): bigint {
  if (typeof value === 'bigint') return value;
  if (bsonTypeOf(value) === 'Long') return BigInt((value as Long).toString());
  return BigInt(Math.trunc(toNumber(value)));
}

const LONG_MIN = -(2n ** 63n);
const LONG_MAX = 2n ** 63n - 1n;

/** a + b or a * b with mongod's type rules (both must be numbers). */
export function arithmetic(a: unknown, b: unknown, op: 'add' | 'multiply' | 'subtract'): unknown {
  const kind = widerKind(numberKind(a)!, numberKind(b)!);
  if (kind === 'int' || kind === 'long') {
    const x = asBigInt(a);
    const y = asBigInt(b);
    const exact = op === 'add' ? x + y : op === 'subtract' ? x - y : x * y;
    if (kind === 'int' && exact >= BigInt(INT32_MIN) && exact <= BigInt(INT32_MAX)) return Number(exact);
    if (exact >= LONG_MIN && exact <= LONG_MAX) return Long.fromBigInt(exact);
    return asDouble(Number(exact));
  }
  const x = toNumber(a);
  const y = toNumber(b);
  return makeNumber(op === 'add' ? x + y : op === 'subtract' ? x - y : x * y, kind);
}
