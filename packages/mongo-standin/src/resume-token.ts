import { Timestamp, UUID, type Document } from 'bson';
import { CommandError, ErrorCodes } from './errors.js';
import { decodeKeyString, encodeCString, encodeKeyString, encodeKeyStringValue, KeyStringError } from './keystring.js';
import { bsonTypeOf, isPlainObject, toNumber } from './query/values.js';

/**
 * Resume tokens in mongod's shape (resume_token.cpp): `{ _data: '<hex>' }`, the hex of a KeyString of
 * `clusterTime, version, tokenType, txnOpIndex, fromInvalidate, uuid, eventIdentifier[, fragmentNum]` —
 * version 2 as mongod 7.0 writes them, so an event's token is 90–140 hex characters and a high-water mark's
 * 30. KeyString order is value order, so comparing `_data` strings compares stream positions: by cluster
 * time, then high-water marks (tokenType 0) before events (128) at the same time, then an event before the
 * invalidate it causes (fromInvalidate), then the collection UUID and the event's identity.
 *
 * A token is also a position: a stream at token T has delivered (or filtered out) every event whose token
 * is <= T.
 */
export const TokenKind = { HighWaterMark: 0, Event: 1, Invalidate: 2 } as const;
export type TokenKind = (typeof TokenKind)[keyof typeof TokenKind];

export interface ResumeToken {
  _data: string;
}

const TOKEN_VERSION = 2;
const EVENT_TOKEN_TYPE = 128;
const HIGH_WATER_MARK_TOKEN_TYPE = 0;

type Ts = { t: number; i: number };
const timestamp = (ts: Ts) => (ts instanceof Timestamp ? ts : new Timestamp({ t: ts.t, i: ts.i }));

/** What identifies one change event besides its time: mongod's eventIdentifier and the collection UUID. */
export interface EventIdentity {
  uuid?: UUID;
  operationType: string;
  documentKey?: Document;
  operationDescription?: Document;
  fromInvalidate?: boolean;
  /** The fragment of an event split by `$changeStreamSplitLargeEvent` (0-based). */
  fragmentNum?: number;
}

const uuidHexCache = new WeakMap<object, string>();
const STRING = '3C';
const OBJECT = '46';
/** clusterTime is followed by: version 2, tokenType 128 (event), txnOpIndex 0. */
const EVENT_PREFIX = '2B042C010029';
const OPERATION_TYPE = encodeCString('operationType');
const DOCUMENT_KEY = encodeCString('documentKey');
const OPERATION_DESCRIPTION = encodeCString('operationDescription');

function timeHex(ts: Ts): string {
  return `82${(ts.t >>> 0).toString(16).padStart(8, '0')}${(ts.i >>> 0).toString(16).padStart(8, '0')}`.toUpperCase();
}

function uuidHex(uuid: UUID | undefined): string {
  if (uuid === undefined) return '14';
  let hex = uuidHexCache.get(uuid);
  if (hex === undefined) {
    hex = encodeKeyStringValue(uuid);
    uuidHexCache.set(uuid, hex);
  }
  return hex;
}

const ID_FIELD = encodeCString('_id');

/** A documentKey's encoding, with a fast path for the usual `{ _id: ObjectId }`. */
function documentKeyHex(documentKey: Document): string {
  const id = documentKey._id as { _bsontype?: string; toHexString?: () => string } | undefined;
  if (id?._bsontype === 'ObjectId' && Object.keys(documentKey).length === 1) {
    return `4664${ID_FIELD}64${id.toHexString!().toUpperCase()}00`;
  }
  return encodeKeyStringValue(documentKey);
}

/**
 * The full token of one event: the KeyString of `[clusterTime, 2, 128, 0, fromInvalidate, uuid | null,
 * { operationType, documentKey | operationDescription }, fragmentNum?]`, assembled from cached pieces
 * (tokens are made on every write).
 */
export function eventTokenData(ts: Ts, event: EventIdentity): string {
  let identifier = OBJECT + STRING + OPERATION_TYPE + STRING + encodeCString(event.operationType);
  if (event.documentKey !== undefined) identifier += OBJECT + DOCUMENT_KEY + documentKeyHex(event.documentKey);
  else if (event.operationDescription !== undefined) {
    identifier += OBJECT + OPERATION_DESCRIPTION + encodeKeyStringValue(event.operationDescription);
  }
  identifier += '00';
  const fragment = event.fragmentNum === undefined ? '' : encodeKeyStringValue(event.fragmentNum);
  return (
    timeHex(ts) +
    EVENT_PREFIX +
    (event.fromInvalidate === true ? '6F' : '6E') +
    uuidHex(event.uuid) +
    identifier +
    fragment +
    '04'
  );
}

/**
 * A position token at `ts`: the high-water mark "before anything at ts" (a token mongod issues), or the
 * stand-in's bare positions "after ts's plain events but before any event at ts" (Event) and "after every
 * event at ts except invalidates" (Invalidate), used as bounds and never handed out as event tokens.
 */
export function tokenData(ts: Ts, kind: TokenKind): string {
  if (kind === TokenKind.HighWaterMark) {
    return encodeKeyString([timestamp(ts), TOKEN_VERSION, HIGH_WATER_MARK_TOKEN_TYPE, 0, false, null]);
  }
  return encodeKeyString([timestamp(ts), TOKEN_VERSION, EVENT_TOKEN_TYPE, 0, kind === TokenKind.Invalidate]);
}

export function tokenAt(ts: Ts, kind: TokenKind): ResumeToken {
  return { _data: tokenData(ts, kind) };
}

/** The cluster-time prefix of a token ('82' + 16 hex digits): tokens of one time share it. */
export function timeOf(token: string): string {
  return token.slice(0, 18);
}

export interface ParsedToken {
  data: string;
  t: number;
  i: number;
  kind: TokenKind;
  fragmentNum?: number;
}

const badToken = (code: number, message: string) => new CommandError(code, message);

/**
 * Parses a token a client sent back, with mongod's checks and codes (ResumeToken::getData): `_data` must be a
 * string (40647) of hex (FailedToParse) encoding a version 0–2 token. Tokens of another deployment decode
 * like ours; whether their time is still in this oplog is for the change stream to decide.
 */
export function parseToken(value: unknown, field = 'resumeAfter'): ParsedToken {
  if (!isPlainObject(value)) {
    throw new CommandError(
      ErrorCodes.TypeMismatch,
      `BSON field '$changeStream.${field}' is the wrong type '${typeof value}', expected type 'object'`,
    );
  }
  const data = value._data;
  if (typeof data !== 'string') {
    throw badToken(
      40647,
      `Bad resume token: _data of missing or of wrong type. Expected string, got ${JSON.stringify(value)}`,
    );
  }
  if (data.length % 2 !== 0 || !/^[0-9A-Fa-f]*$/.test(data)) {
    throw badToken(ErrorCodes.FailedToParse, 'resume token string was not a valid hex string');
  }
  let values: unknown[];
  try {
    values = decodeKeyString(data);
  } catch (err) {
    if (!(err instanceof KeyStringError)) throw err;
    throw badToken(ErrorCodes.FailedToParse, `Bad resume token: ${err.message}`);
  }
  const [clusterTime, version, ...rest] = values;
  if (values.length === 0) throw badToken(40649, 'invalid empty resume token');
  if (bsonTypeOf(clusterTime) !== 'Timestamp') throw badToken(40649, 'invalid resume token: no clusterTime');
  if (version === undefined) throw badToken(50796, 'Resume Token does not contain version');
  if (typeof version !== 'number' || ![0, 1, 2].includes(version)) {
    throw badToken(50795, 'Invalid Resume Token: only supports version 0, 1 and 2');
  }
  let tokenType = EVENT_TOKEN_TYPE;
  if (version >= 1) {
    const type = rest.shift();
    if (type !== EVENT_TOKEN_TYPE && type !== HIGH_WATER_MARK_TOKEN_TYPE) {
      throw badToken(51057, `Token type ${String(type)} not recognized`);
    }
    tokenType = type;
  }
  const txnOpIndex = rest.shift();
  if (typeof txnOpIndex !== 'number' || txnOpIndex < 0) {
    throw badToken(50855, 'Resume Token txnOpIndex is not an integer');
  }
  const fromInvalidate = version >= 1 ? rest.shift() : false;
  if (typeof fromInvalidate !== 'boolean') throw badToken(50870, 'Resume Token fromInvalidate is not a boolean.');
  rest.shift(); // uuid or null
  const eventIdentifier = rest.shift();
  if (eventIdentifier !== undefined && !isPlainObject(eventIdentifier)) {
    throw badToken(6189503, 'Resume Token eventIdentifier is not an object');
  }
  if (version >= 2 && tokenType === EVENT_TOKEN_TYPE && eventIdentifier === undefined) {
    throw badToken(6189501, 'Expected an eventIdentifier for an event resume token');
  }
  const fragmentNum = rest.shift();
  if (fragmentNum !== undefined && (typeof fragmentNum !== 'number' || fragmentNum < 0)) {
    throw badToken(7182501, "Resume token 'fragmentNum' must be a non-negative integer.");
  }
  if (rest.length > 0) throw badToken(40646, 'invalid oversized resume token');
  const ts = clusterTime as Timestamp;
  const kind =
    tokenType === HIGH_WATER_MARK_TOKEN_TYPE
      ? TokenKind.HighWaterMark
      : fromInvalidate
        ? TokenKind.Invalidate
        : TokenKind.Event;
  return {
    data: data.toUpperCase(),
    t: ts.t,
    i: ts.i,
    kind,
    ...(fragmentNum === undefined ? {} : { fragmentNum: toNumber(fragmentNum) }),
  };
}
