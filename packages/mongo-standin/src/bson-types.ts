import { BSON, type Document } from 'bson';

/**
 * Decodes BSON keeping every number's type, so what the stand-in stores and returns is what it was sent, as
 * mongod does (https://www.mongodb.com/docs/manual/reference/bson-types/): an int64 stays a `Long` (not a JS
 * number that would come back as an int32 or a double), and a whole-number double stays a `Double` (not a JS
 * number that would come back as an int32). Other doubles and int32s become JS numbers, which re-encode as
 * they were.
 *
 * Whole-number doubles are rare (drivers send JS numbers that are integers as int32s), so a cheap scan looks
 * for them first and only documents that have one take the slower typed decode.
 */
const fast = { promoteLongs: false, validation: { utf8: false } } as const;
const typed = { promoteValues: false, validation: { utf8: false } } as const;

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

export function deserializeDocument(bytes: Uint8Array): Document {
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (!hasWholeDouble(view, 0, view.length)) return BSON.deserialize(view, fast);
  return restoreNumbers(BSON.deserialize(view, typed)) as Document;
}

/** Whether the document at `start` holds a double that is a whole number in int32 range (at any depth). */
function hasWholeDouble(buf: Buffer, start: number, end: number): boolean {
  let i = start + 4;
  while (i < end) {
    const type = buf[i++]!;
    if (type === 0) return false;
    if (i >= end) return true;
    i = pastCString(buf, i, end); // past the field name
    if (i < 0) return true;
    switch (type) {
      case 0x01: {
        const value = buf.readDoubleLE(i);
        if (Number.isInteger(value) && value >= INT32_MIN && value <= INT32_MAX) return true;
        i += 8;
        break;
      }
      case 0x02:
      case 0x0d:
      case 0x0e:
        i += 4 + buf.readInt32LE(i);
        break;
      case 0x03:
      case 0x04: {
        const size = buf.readInt32LE(i);
        if (hasWholeDouble(buf, i, i + size)) return true;
        i += size;
        break;
      }
      case 0x05:
        i += 5 + buf.readInt32LE(i);
        break;
      case 0x06:
      case 0x0a:
      case 0x7f:
      case 0xff:
        break;
      case 0x07:
        i += 12;
        break;
      case 0x08:
        i += 1;
        break;
      case 0x09:
      case 0x11:
      case 0x12:
        i += 8;
        break;
      case 0x0b:
        i = pastCString(buf, i, end);
        if (i < 0) return true;
        i = pastCString(buf, i, end);
        if (i < 0) return true;
        break;
      case 0x0c:
        i += 4 + buf.readInt32LE(i) + 12;
        break;
      case 0x0f:
        i += buf.readInt32LE(i);
        break;
      case 0x10:
        i += 4;
        break;
      case 0x13:
        i += 16;
        break;
      default:
        // Unknown to the scan: let the typed decode (and its validation) deal with it.
        return true;
    }
  }
  return false;
}

/** The offset after the C string at `i`, or -1 when it is not terminated before `end`. */
function pastCString(buf: Buffer, i: number, end: number): number {
  const at = buf.indexOf(0, i);
  return at < 0 || at >= end ? -1 : at + 1;
}

/** After a typed decode: int32s and non-whole doubles back to JS numbers, whole doubles and longs kept. */
function restoreNumbers(value: unknown): unknown {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = restoreNumbers(value[i]);
    return value;
  }
  if (value === null || typeof value !== 'object') return value;
  const tag = (value as { _bsontype?: string })._bsontype;
  if (tag === 'Int32') return (value as { value: number }).value;
  if (tag === 'Double') {
    const n = (value as { value: number }).value;
    return Number.isInteger(n) && n >= INT32_MIN && n <= INT32_MAX ? value : n;
  }
  if (tag !== undefined || value instanceof Date || ArrayBuffer.isView(value)) return value;
  const doc = value as Document;
  for (const key of Object.keys(doc)) doc[key] = restoreNumbers(doc[key]);
  return doc;
}
