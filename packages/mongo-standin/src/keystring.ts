import { Binary, Long, ObjectId, Timestamp, UUID, type Document } from 'bson';
import { bsonTypeOf, toNumber } from './query/values.js';

/**
 * An order-preserving binary encoding of BSON values, after mongod's KeyString (V1: key_string.cpp), which
 * mongod uses for resume tokens: values are written one after the other, each as a type byte and a body whose
 * bytes sort as the values do, so comparing two encodings byte by byte (or as upper-case hex) compares the
 * value sequences. Integers, strings, ObjectIds, booleans, null, dates, timestamps, binary data, objects and
 * arrays are encoded as mongod encodes them; non-integral numbers use a simpler order-preserving form of the
 * stand-in's own. Type bits (which tell int from long from double) are not kept, as equal numbers are equal
 * keys in mongod too.
 */

const enum CType {
  MinKey = 10,
  Undefined = 15,
  Nullish = 20,
  Numeric = 30,
  NumericNegativeLargeMagnitude = 31,
  NumericNegativeSmallMagnitude = 40,
  NumericZero = 41,
  NumericPositiveSmallMagnitude = 42,
  NumericPositive1ByteInt = 43,
  NumericPositiveLargeMagnitude = 51,
  StringLike = 60,
  Object = 70,
  Array = 80,
  BinData = 90,
  OID = 100,
  BoolFalse = 110,
  BoolTrue = 111,
  Date = 120,
  Timestamp = 130,
  RegEx = 140,
  MaxKey = 240,
}

/** Ends a KeyString. */
const END = 4;

export class KeyStringError extends Error {
  override name = 'KeyStringError';
}

const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).toUpperCase().padStart(2, '0'));
/** Hex of C strings already written (field names and operation types repeat on every token). */
const cstringCache = new Map<string, string>();
const MAX_CACHED_CSTRINGS = 1024;

/** Builds the KeyString directly as upper-case hex (tokens are built on every write: this is a hot path). */
class Writer {
  private out = '';

  byte(b: number): void {
    this.out += HEX[b & 0xff];
  }

  raw(buf: Uint8Array): void {
    for (let i = 0; i < buf.length; i++) this.out += HEX[buf[i]!];
  }

  /** A C string with embedded NULs escaped as 00 FF, as KeyString writes strings and field names. */
  cstring(text: string): void {
    const cached = cstringCache.get(text);
    if (cached !== undefined) {
      this.out += cached;
      return;
    }
    let hex = '';
    for (const b of Buffer.from(text, 'utf8')) hex += b === 0 ? '00FF' : HEX[b];
    hex += '00';
    if (text.length <= 64 && cstringCache.size < MAX_CACHED_CSTRINGS) cstringCache.set(text, hex);
    this.out += hex;
  }

  /** Bytes given as hex (an ObjectId's). */
  hexString(hex: string): void {
    this.out += hex.toUpperCase();
  }

  hex(): string {
    return this.out;
  }
}

/** One value's encoding (type byte and body), as hex, without the KeyString's end byte. */
export function encodeKeyStringValue(value: unknown): string {
  const w = new Writer();
  writeValue(w, value);
  return w.hex();
}

/** A C string's encoding as KeyString writes field names and strings (hex, with its terminator). */
export function encodeCString(text: string): string {
  const w = new Writer();
  w.cstring(text);
  return w.hex();
}

/** Encodes values as one KeyString and returns its upper-case hex (what `_data` holds). */
export function encodeKeyString(values: unknown[]): string {
  const w = new Writer();
  for (const value of values) writeValue(w, value);
  w.byte(END);
  return w.hex();
}

function genericType(value: unknown): number {
  const type = valueType(value);
  if (type >= CType.Numeric && type <= CType.NumericPositiveLargeMagnitude) return CType.Numeric;
  if (type === CType.BoolTrue) return CType.BoolFalse;
  return type;
}

function valueType(value: unknown): number {
  if (value === null || value === undefined) return CType.Nullish;
  if (typeof value === 'string') return CType.StringLike;
  if (typeof value === 'boolean') return value ? CType.BoolTrue : CType.BoolFalse;
  if (typeof value === 'number' || typeof value === 'bigint') return numericType(value);
  if (Array.isArray(value)) return CType.Array;
  if (value instanceof Date) return CType.Date;
  if (value instanceof RegExp) return CType.RegEx;
  if (ArrayBuffer.isView(value)) return CType.BinData;
  switch (bsonTypeOf(value)) {
    case undefined:
      return CType.Object;
    case 'Int32':
    case 'Double':
    case 'Long':
    case 'Decimal128':
      return numericType(value);
    case 'ObjectId':
      return CType.OID;
    case 'Binary':
      return CType.BinData;
    case 'Timestamp':
      return CType.Timestamp;
    case 'BSONRegExp':
      return CType.RegEx;
    case 'MinKey':
      return CType.MinKey;
    case 'MaxKey':
      return CType.MaxKey;
    case 'BSONSymbol':
      return CType.StringLike;
    default:
      return CType.Object;
  }
}

/** An integral value as a BigInt, or undefined when it has a fraction (or is not finite). */
function integral(value: unknown): bigint | undefined {
  if (typeof value === 'bigint') return value;
  if (bsonTypeOf(value) === 'Long') return BigInt((value as Long).toString());
  const n = toNumber(value);
  return Number.isFinite(n) && Number.isInteger(n) && Math.abs(n) <= Number.MAX_SAFE_INTEGER ? BigInt(n) : undefined;
}

function byteLength(n: bigint): number {
  let length = 1;
  while (n >> BigInt(8 * length) > 0n) length += 1;
  return length;
}

/** Bytes needed for a small non-negative integer (below 2^31). */
function smallByteLength(n: number): number {
  return n < 0x100 ? 1 : n < 0x10000 ? 2 : n < 0x1000000 ? 3 : 4;
}

const isSmallInt = (value: unknown): value is number =>
  typeof value === 'number' && Number.isInteger(value) && Math.abs(value) < 2 ** 30;

function numericType(value: unknown): number {
  if (isSmallInt(value)) {
    if (value === 0) return CType.NumericZero;
    const length = smallByteLength(Math.abs(value) * 2);
    return value > 0 ? CType.NumericPositive1ByteInt + length - 1 : CType.NumericZero - 2 - (length - 1);
  }
  const int = integral(value);
  if (int === undefined) {
    const n = toNumber(value);
    if (Number.isNaN(n)) return CType.Numeric;
    if (!Number.isFinite(n) || Math.abs(n) >= 2 ** 53) {
      return n < 0 ? CType.NumericNegativeLargeMagnitude : CType.NumericPositiveLargeMagnitude;
    }
    if (Math.abs(n) < 1) return n < 0 ? CType.NumericNegativeSmallMagnitude : CType.NumericPositiveSmallMagnitude;
    // A fraction above 1: classed by its integral part, like an integer of that size.
    const length = smallByteLength(Math.floor(Math.abs(n)) * 2 + 1);
    return n > 0 ? CType.NumericPositive1ByteInt + length - 1 : CType.NumericZero - 2 - (length - 1);
  }
  if (int === 0n) return CType.NumericZero;
  const shifted = (int < 0n ? -int : int) << 1n;
  const length = byteLength(shifted);
  if (length > 8) return int < 0n ? CType.NumericNegativeLargeMagnitude : CType.NumericPositiveLargeMagnitude;
  // kNumericPositive1ByteInt + (n - 1) for positives; kNumericNegative1ByteInt - (n - 1) for negatives.
  return int > 0n ? CType.NumericPositive1ByteInt + length - 1 : CType.NumericZero - 2 - (length - 1);
}

/** Doubles without an integral form: 8 bytes that sort as the numbers do (sign-flipped IEEE 754). */
function orderedDoubleBytes(n: number): Buffer {
  const buf = Buffer.alloc(8);
  buf.writeDoubleBE(n);
  if (n < 0 || Object.is(n, -0)) for (let i = 0; i < 8; i++) buf[i] = ~buf[i]! & 0xff;
  else buf[0] = buf[0]! | 0x80;
  return buf;
}

function writeValue(w: Writer, value: unknown): void {
  const type = valueType(value);
  w.byte(type);
  switch (type) {
    case CType.Nullish:
    case CType.BoolFalse:
    case CType.BoolTrue:
    case CType.MinKey:
    case CType.MaxKey:
    case CType.NumericZero:
      return;
    case CType.StringLike:
      w.cstring(String(value));
      return;
    case CType.Object:
      for (const [name, field] of Object.entries(value as Document)) {
        if (field === undefined) continue;
        w.byte(genericType(field));
        w.cstring(name);
        writeValue(w, field);
      }
      w.byte(0);
      return;
    case CType.Array:
      for (const element of value as unknown[]) writeValue(w, element);
      w.byte(0);
      return;
    case CType.BinData: {
      // Read through the fields, not instanceof: a Binary may come from another copy of the bson package.
      const bin = value as { buffer: Uint8Array; position: number; sub_type: number };
      const bytes = ArrayBuffer.isView(value)
        ? new Uint8Array(value.buffer, value.byteOffset, value.byteLength)
        : bin.buffer.subarray(0, bin.position);
      const subType = ArrayBuffer.isView(value) ? 0 : bin.sub_type;
      if (bytes.length < 0xff) w.byte(bytes.length);
      else {
        w.byte(0xff);
        const size = Buffer.alloc(4);
        size.writeUInt32BE(bytes.length);
        w.raw(size);
      }
      w.byte(subType);
      w.raw(bytes);
      return;
    }
    case CType.OID:
      w.hexString((value as ObjectId).toHexString());
      return;
    case CType.Date: {
      const buf = Buffer.alloc(8);
      buf.writeBigUInt64BE(BigInt.asUintN(64, BigInt((value as Date).getTime())) ^ (1n << 63n));
      w.raw(buf);
      return;
    }
    case CType.Timestamp: {
      const ts = value as Timestamp;
      w.hexString((ts.t >>> 0).toString(16).padStart(8, '0') + (ts.i >>> 0).toString(16).padStart(8, '0'));
      return;
    }
    case CType.RegEx: {
      const re = value as { source?: string; flags?: string; pattern?: string; options?: string };
      w.cstring(re.pattern ?? re.source ?? '');
      w.cstring(re.options ?? re.flags ?? '');
      return;
    }
    case CType.NumericNegativeLargeMagnitude:
    case CType.NumericPositiveLargeMagnitude:
      w.raw(orderedDoubleBytes(toNumber(value)));
      return;
    case CType.Numeric:
      return; // NaN
    case CType.NumericNegativeSmallMagnitude:
    case CType.NumericPositiveSmallMagnitude: {
      // The magnitude's IEEE 754 bits sort as the magnitudes do; inverted for negatives.
      const buf = Buffer.alloc(8);
      buf.writeDoubleBE(Math.abs(toNumber(value)));
      for (const b of buf) w.byte(type === CType.NumericNegativeSmallMagnitude ? ~b : b);
      return;
    }
    default: {
      const n = typeof value === 'number' ? value : toNumber(value);
      if (!Number.isInteger(n) && integral(value) === undefined) {
        // The integral part as an integer with the fraction flag (low bit) set, then the fraction in 8 bytes.
        const magnitude = Math.abs(n);
        const whole = Math.floor(magnitude);
        const shifted = whole * 2 + 1;
        const fraction = Buffer.alloc(8);
        fraction.writeBigUInt64BE(BigInt(Math.floor((magnitude - whole) * 2 ** 53)));
        for (let i = smallByteLength(shifted) - 1; i >= 0; i--) {
          const b = Math.floor(shifted / 2 ** (8 * i)) & 0xff;
          w.byte(n < 0 ? ~b : b);
        }
        for (const b of fraction) w.byte(n < 0 ? ~b : b);
        return;
      }
      // Integers: the magnitude shifted left by one (the low bit would flag a fraction), big-endian, inverted
      // for negatives so that larger magnitudes sort first.
      if (isSmallInt(value)) {
        const shifted = Math.abs(value) * 2;
        for (let i = smallByteLength(shifted) - 1; i >= 0; i--) {
          const b = Math.floor(shifted / 2 ** (8 * i)) & 0xff;
          w.byte(value < 0 ? ~b : b);
        }
        return;
      }
      const int = integral(value)!;
      const negative = int < 0n;
      const shifted = (negative ? -int : int) << 1n;
      const length = byteLength(shifted);
      for (let i = length - 1; i >= 0; i--) {
        const b = Number((shifted >> BigInt(8 * i)) & 0xffn);
        w.byte(negative ? ~b : b);
      }
    }
  }
}

class Reader {
  private at = 0;

  constructor(private readonly buf: Buffer) {}

  get done(): boolean {
    return this.at >= this.buf.length;
  }

  byte(): number {
    if (this.at >= this.buf.length) throw new KeyStringError('KeyString ends too early');
    return this.buf[this.at++]!;
  }

  peek(): number {
    if (this.at >= this.buf.length) throw new KeyStringError('KeyString ends too early');
    return this.buf[this.at]!;
  }

  take(n: number): Buffer {
    if (this.at + n > this.buf.length) throw new KeyStringError('KeyString ends too early');
    const out = this.buf.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }

  cstring(): string {
    const bytes: number[] = [];
    for (;;) {
      const b = this.byte();
      if (b !== 0) bytes.push(b);
      else if (this.at < this.buf.length && this.buf[this.at] === 0xff) {
        this.at += 1;
        bytes.push(0);
      } else break;
    }
    return Buffer.from(bytes).toString('utf8');
  }
}

/** Decodes a KeyString written by `encodeKeyString` (or by mongod, for the types above). */
export function decodeKeyString(hex: string): unknown[] {
  const reader = new Reader(Buffer.from(hex, 'hex'));
  const values: unknown[] = [];
  for (;;) {
    const type = reader.byte();
    if (type === END) break;
    values.push(readValue(reader, type));
  }
  if (!reader.done) throw new KeyStringError('unexpected bytes after the end of the KeyString');
  return values;
}

function readValue(r: Reader, type: number): unknown {
  switch (type) {
    case CType.Nullish:
    case CType.Undefined:
      return null;
    case CType.BoolFalse:
      return false;
    case CType.BoolTrue:
      return true;
    case CType.MinKey:
      return { $minKey: 1 };
    case CType.MaxKey:
      return { $maxKey: 1 };
    case CType.NumericZero:
      return 0;
    case CType.Numeric:
      return Number.NaN;
    case CType.NumericNegativeSmallMagnitude:
    case CType.NumericPositiveSmallMagnitude: {
      const buf = Buffer.from(r.take(8));
      if (type === CType.NumericNegativeSmallMagnitude) for (let i = 0; i < 8; i++) buf[i] = ~buf[i]! & 0xff;
      const magnitude = buf.readDoubleBE(0);
      return type === CType.NumericNegativeSmallMagnitude ? -magnitude : magnitude;
    }
    case CType.StringLike:
      return r.cstring();
    case CType.Object: {
      const doc: Document = {};
      while (r.peek() !== 0) {
        r.byte(); // the element's generic type
        const name = r.cstring();
        doc[name] = readValue(r, r.byte());
      }
      r.byte();
      return doc;
    }
    case CType.Array: {
      const array: unknown[] = [];
      while (r.peek() !== 0) array.push(readValue(r, r.byte()));
      r.byte();
      return array;
    }
    case CType.BinData: {
      let size = r.byte();
      if (size === 0xff) size = r.take(4).readUInt32BE(0);
      const subType = r.byte();
      const bytes = Buffer.from(r.take(size));
      return subType === 4 && size === 16 ? new UUID(bytes) : new Binary(bytes, subType);
    }
    case CType.OID:
      return new ObjectId(Buffer.from(r.take(12)));
    case CType.Date:
      return new Date(Number(BigInt.asIntN(64, r.take(8).readBigUInt64BE(0) ^ (1n << 63n))));
    case CType.Timestamp: {
      const buf = r.take(8);
      return new Timestamp({ t: buf.readUInt32BE(0), i: buf.readUInt32BE(4) });
    }
    case CType.RegEx: {
      const pattern = r.cstring();
      return new RegExp(pattern, r.cstring().replace(/[^gimsuy]/g, ''));
    }
    case CType.NumericNegativeLargeMagnitude:
    case CType.NumericPositiveLargeMagnitude: {
      const buf = Buffer.from(r.take(8));
      if (type === CType.NumericNegativeLargeMagnitude) for (let i = 0; i < 8; i++) buf[i] = ~buf[i]! & 0xff;
      else buf[0] = buf[0]! & 0x7f;
      return buf.readDoubleBE(0);
    }
    default: {
      const positive = type >= CType.NumericPositive1ByteInt && type < CType.NumericPositiveLargeMagnitude;
      const negative = type > CType.NumericNegativeLargeMagnitude && type < CType.NumericZero - 1;
      if (!positive && !negative) throw new KeyStringError(`unknown KeyString type byte ${type}`);
      const length = positive ? type - CType.NumericPositive1ByteInt + 1 : CType.NumericZero - 2 - type + 1;
      let shifted = 0n;
      for (const b of r.take(length)) shifted = (shifted << 8n) | BigInt(negative ? ~b & 0xff : b);
      const magnitude = shifted >> 1n;
      if ((shifted & 1n) === 1n) {
        let fraction = 0n;
        for (const b of r.take(8)) fraction = (fraction << 8n) | BigInt(negative ? ~b & 0xff : b);
        const value = Number(magnitude) + Number(fraction) / 2 ** 53;
        return negative ? -value : value;
      }
      const int = negative ? -magnitude : magnitude;
      return int >= BigInt(-(2 ** 31)) && int < BigInt(2 ** 31) ? Number(int) : Long.fromBigInt(int);
    }
  }
}
