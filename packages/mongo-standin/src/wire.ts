import { BSON, type Document } from 'bson';
import { deserializeDocument } from './bson-types.js';

/**
 * MongoDB wire protocol framing (https://www.mongodb.com/docs/manual/reference/mongodb-wire-protocol/):
 * a 16-byte header, then OP_MSG (2013) or the legacy OP_QUERY (2004) the driver still uses for its first hello.
 * Replies are OP_MSG for OP_MSG requests and OP_REPLY (1) for OP_QUERY requests.
 */
export const OpCode = { REPLY: 1, QUERY: 2004, COMPRESSED: 2012, MSG: 2013 } as const;

export const MAX_MESSAGE_SIZE_BYTES = 48_000_000;
const HEADER_SIZE = 16;
const MSG_CHECKSUM_PRESENT = 1 << 0;
const MSG_MORE_TO_COME = 1 << 1;
const MSG_EXHAUST_ALLOWED = 1 << 16;
/** Flag bits 0-15 are "required": a receiver must reject a message that sets one it does not know. */
const MSG_KNOWN_REQUIRED_BITS = MSG_CHECKSUM_PRESENT | MSG_MORE_TO_COME;

export type WireRequest =
  | { kind: 'msg'; requestId: number; body: Document; moreToCome: boolean; exhaustAllowed: boolean }
  | { kind: 'query'; requestId: number; fullCollectionName: string; query: Document }
  /** A frame we could delimit but not understand: answered with an error reply, the connection stays open. */
  | { kind: 'invalid'; requestId: number; opCode: number; reason: string };

/** A frame that cannot even be delimited: the only safe answer is closing the connection, as mongod does. */
export class FramingError extends Error {
  override name = 'FramingError';
}

/** Splits a TCP byte stream into whole wire messages. */
export class MessageFramer {
  private chunks: Buffer[] = [];
  private buffered = 0;

  constructor(private readonly maxMessageSize = MAX_MESSAGE_SIZE_BYTES) {}

  /** Adds bytes; returns every message now complete. Throws FramingError on an impossible length. */
  push(chunk: Buffer): Buffer[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const frames: Buffer[] = [];
    while (this.buffered >= 4) {
      const head = this.peek(4);
      const length = head.readInt32LE(0);
      if (length < HEADER_SIZE || length > this.maxMessageSize) {
        throw new FramingError(`invalid message length ${length}`);
      }
      if (this.buffered < length) break;
      frames.push(this.take(length));
    }
    return frames;
  }

  private peek(n: number): Buffer {
    if (this.chunks[0]!.length >= n) return this.chunks[0]!;
    const all = Buffer.concat(this.chunks);
    this.chunks = [all];
    return all;
  }

  private take(n: number): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    const frame = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
    return frame;
  }
}

function readCString(buf: Buffer, offset: number): { value: string; next: number } {
  const end = buf.indexOf(0, offset);
  if (end < 0) throw new Error('unterminated cstring');
  return { value: buf.toString('utf8', offset, end), next: end + 1 };
}

function readDocument(buf: Buffer, offset: number, limit: number): { doc: Document; next: number } {
  if (offset + 5 > limit) throw new Error('truncated BSON document');
  const size = buf.readInt32LE(offset);
  if (size < 5 || offset + size > limit) throw new Error(`invalid BSON document size ${size}`);
  const doc = deserializeDocument(buf.subarray(offset, offset + size));
  return { doc, next: offset + size };
}

/** Decodes one complete frame. Never throws for content errors: those become `kind: 'invalid'`. */
export function decodeRequest(frame: Buffer): WireRequest {
  const requestId = frame.readInt32LE(4);
  const opCode = frame.readInt32LE(12);
  try {
    if (opCode === OpCode.MSG) return decodeMsg(frame, requestId);
    if (opCode === OpCode.QUERY) return decodeQuery(frame, requestId);
    return { kind: 'invalid', requestId, opCode, reason: `unsupported opCode ${opCode}` };
  } catch (err) {
    return { kind: 'invalid', requestId, opCode, reason: err instanceof Error ? err.message : String(err) };
  }
}

function decodeMsg(frame: Buffer, requestId: number): WireRequest {
  const flags = frame.readUInt32LE(HEADER_SIZE);
  const unknownRequired = flags & 0xffff & ~MSG_KNOWN_REQUIRED_BITS;
  if (unknownRequired !== 0) throw new Error(`unknown required OP_MSG flag bits 0x${unknownRequired.toString(16)}`);
  const end = flags & MSG_CHECKSUM_PRESENT ? frame.length - 4 : frame.length;
  let offset = HEADER_SIZE + 4;
  let body: Document | undefined;
  const sequences: Array<[string, Document[]]> = [];
  while (offset < end) {
    const kind = frame.readUInt8(offset);
    offset += 1;
    if (kind === 0) {
      if (body) throw new Error('OP_MSG has more than one body section');
      const read = readDocument(frame, offset, end);
      body = read.doc;
      offset = read.next;
    } else if (kind === 1) {
      const size = frame.readInt32LE(offset);
      const sectionEnd = offset + size;
      if (size < 5 || sectionEnd > end) throw new Error(`invalid document sequence size ${size}`);
      const id = readCString(frame, offset + 4);
      const docs: Document[] = [];
      let at = id.next;
      while (at < sectionEnd) {
        const read = readDocument(frame, at, sectionEnd);
        docs.push(read.doc);
        at = read.next;
      }
      sequences.push([id.value, docs]);
      offset = sectionEnd;
    } else {
      throw new Error(`unknown OP_MSG section kind ${kind}`);
    }
  }
  if (!body) throw new Error('OP_MSG has no body section');
  for (const [identifier, docs] of sequences) {
    if (identifier in body) throw new Error(`duplicate field '${identifier}' in body and document sequence`);
    body[identifier] = docs;
  }
  return {
    kind: 'msg',
    requestId,
    body,
    moreToCome: (flags & MSG_MORE_TO_COME) !== 0,
    exhaustAllowed: (flags & MSG_EXHAUST_ALLOWED) !== 0,
  };
}

function decodeQuery(frame: Buffer, requestId: number): WireRequest {
  const name = readCString(frame, HEADER_SIZE + 4);
  const query = readDocument(frame, name.next + 8, frame.length).doc;
  return { kind: 'query', requestId, fullCollectionName: name.value, query };
}

let nextResponseId = 1;

function header(length: number, responseTo: number, opCode: number): Buffer {
  const head = Buffer.allocUnsafe(HEADER_SIZE);
  head.writeInt32LE(length, 0);
  head.writeInt32LE(nextResponseId++ & 0x7fffffff, 4);
  head.writeInt32LE(responseTo, 8);
  head.writeInt32LE(opCode, 12);
  return head;
}

/**
 * OP_MSG reply with a single body section. With `moreToCome` (an exhaust stream, such as streaming hellos)
 * the client keeps reading further replies without sending requests.
 */
export function encodeMsgReply(responseTo: number, doc: Document, moreToCome = false): Buffer {
  const body = BSON.serialize(doc);
  const length = HEADER_SIZE + 4 + 1 + body.length;
  const prefix = Buffer.alloc(5); // flagBits, then section kind 0
  if (moreToCome) prefix.writeUInt32LE(MSG_MORE_TO_COME, 0);
  return Buffer.concat([header(length, responseTo, OpCode.MSG), prefix, body], length);
}

/** The requestId a reply was sent with: the responseTo of the next reply in an exhaust stream. */
export function requestIdOf(message: Buffer): number {
  return message.readInt32LE(4);
}

/** OP_REPLY carrying one document, the answer to a legacy OP_QUERY command. */
export function encodeQueryReply(responseTo: number, doc: Document): Buffer {
  const body = BSON.serialize(doc);
  const fields = Buffer.alloc(20);
  fields.writeInt32LE(8, 0); // responseFlags: AwaitCapable
  // cursorID (8 bytes) and startingFrom (4 bytes) stay 0
  fields.writeInt32LE(1, 16); // numberReturned
  const length = HEADER_SIZE + fields.length + body.length;
  return Buffer.concat([header(length, responseTo, OpCode.REPLY), fields, body], length);
}
