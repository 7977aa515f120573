import { BSON } from 'mongodb';
import type { Document } from 'mongodb';

/**
 * The stored format: one MongoDB document per inter-node message. The adapter and the emitter both write
 * it, the change feed reads it. Field names are part of the public contract (see README "Document format").
 *
 * `kind: 'message'` documents carry a socket.io-adapter `ClusterMessage`/`ClusterResponse` (`type`, `data`,
 * `uid`, `nsp`). `kind: 'probe'` documents are a node's liveness probe addressed to itself. `kind: 'skip'`
 * documents stand for a message MongoDB refused for good, so receivers waiting for its sequence number move
 * on. `kind: 'session'` documents hold connection-state-recovery sessions and never reach a change stream.
 */
export const FORMAT_VERSION = 2;

/** `to` of a message for every node; responses and probes carry the uid of the one node they are for. */
export const TO_ALL = '';

export type DocumentKind = 'message' | 'probe' | 'skip' | 'session';

export interface MessageDocument {
  _id?: unknown;
  v: number;
  kind: 'message' | 'probe' | 'skip';
  /** Who wrote it: the node uid, or an emitter's own id. With `to` and `seq`, the identity used to drop duplicates. */
  origin: string;
  /**
   * Sequence number in the origin's channel `to`: 1, 2, 3... in publish order for every document the origin
   * addresses to `to`, so each receiver sees a gap-free sequence per origin.
   */
  seq: number;
  /**
   * The lowest sequence number of this channel the origin had not yet seen acknowledged when it sent this
   * document: every lower one is already in the stream (or was given up). Receivers wait for the ones from
   * `low` to `seq - 1` only. Absent in format 1 documents.
   */
  low?: number;
  /** The socket.io `ServerId` of the sender (`'emitter'` for emitters, so nodes do not count them as servers). */
  uid: string;
  nsp: string;
  /** socket.io-adapter `MessageType` (0 for probes and skip records). */
  type: number;
  data?: unknown;
  /** `''` (TO_ALL) or the uid of the only node that should receive it. Filtered by MongoDB. */
  to: string;
  /** The origin wants its own copy back through the change stream (probes, and broadcasts that need an offset). */
  echo: boolean;
  /** A broadcast that connection state recovery may replay (event packet, no ack, not volatile). */
  recoverable: boolean;
  /**
   * Socket ids the origin delivered this broadcast to itself, as private packets (kept in their sessions):
   * receivers do not deliver or replay it to these sockets again.
   */
  privateTo?: string[];
  /** Sent while the origin could not hear the cluster: receivers deliver it but do not count the origin as alive. */
  deaf?: boolean;
  /** For TTL indexes (`addCreatedAtField`); not used for ordering (the server orders, not client clocks). */
  createdAt?: Date;
}

/**
 * A document written by `@socket.io/mongo-adapter` (no `kind`): accepted during a rolling migration, so
 * old and new nodes hear each other. It has no sequence number: no duplicate filter, no reordering.
 */
export interface ForeignDocument {
  _id?: unknown;
  uid: string;
  nsp: string;
  type: number;
  data?: unknown;
}

/** The official adapter's `SESSION` type (13), which socket.io-adapter uses for ADAPTER_CLOSE: never applied. */
const FOREIGN_SESSION_TYPE = 13;

/**
 * The change-stream pipeline of one node: MongoDB does all the filtering, so a node receives only
 * inserts meant for it. Deletes (TTL), updates, sessions, other nodes' responses and probes never leave
 * the server.
 */
export function feedPipeline(nodeUid: string): Document[] {
  return [
    {
      $match: {
        $or: [
          // An invalidate (collection dropped or renamed) ends the stream; the feed must see it to resume after it.
          { operationType: 'invalidate' },
          {
            operationType: 'insert',
            'fullDocument.kind': { $in: ['message', 'probe', 'skip'] },
            'fullDocument.to': { $in: [TO_ALL, nodeUid] },
            $or: [{ 'fullDocument.origin': { $ne: nodeUid } }, { 'fullDocument.echo': true }],
          },
          {
            // Nodes still running @socket.io/mongo-adapter (rolling migration).
            operationType: 'insert',
            'fullDocument.kind': { $exists: false },
            'fullDocument.uid': { $ne: nodeUid },
            'fullDocument.type': { $ne: FOREIGN_SESSION_TYPE },
          },
        ],
      },
    },
    // Fields no node reads: not encoded by the server nor decoded by the driver, once per event and node.
    { $unset: ['ns', 'documentKey', 'fullDocument._id', 'fullDocument.createdAt'] },
  ];
}

/** The same predicate in JavaScript, used by session restore to know which events the live feed sees. */
export function feedSees(doc: MessageDocument, nodeUid: string): boolean {
  return (doc.to === TO_ALL || doc.to === nodeUid) && (doc.origin !== nodeUid || doc.echo === true);
}

/** Narrows what a change event's `fullDocument` holds. Anything else is ignored (and counted). */
export function asMessageDocument(value: unknown): MessageDocument | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const d = value as Partial<MessageDocument>;
  if (d.kind !== 'message' && d.kind !== 'probe' && d.kind !== 'skip') return undefined;
  if (typeof d.origin !== 'string' || typeof d.seq !== 'number' || typeof d.uid !== 'string') return undefined;
  if (typeof d.nsp !== 'string' || typeof d.type !== 'number' || typeof d.to !== 'string') return undefined;
  if (d.low !== undefined && typeof d.low !== 'number') return undefined;
  return d as MessageDocument;
}

/** A document of `@socket.io/mongo-adapter`, if that is what `value` is. */
export function asForeignDocument(value: unknown): ForeignDocument | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const d = value as Partial<ForeignDocument> & { kind?: unknown };
  if (d.kind !== undefined || typeof d.uid !== 'string' || typeof d.nsp !== 'string') return undefined;
  if (typeof d.type !== 'number' || d.type === FOREIGN_SESSION_TYPE) return undefined;
  return d as ForeignDocument;
}

/**
 * Upper bound for one stored document. A change event wraps `fullDocument` in an envelope (resume token,
 * namespace, documentKey, clusterTime, wallTime: a few hundred bytes) and must itself stay under 16 MiB,
 * so documents above this are rejected before anything is written.
 */
export const MAX_EVENT_BYTES = 16 * 1024 * 1024;
export const EVENT_ENVELOPE_RESERVE = 16 * 1024;
export const DEFAULT_MAX_DOCUMENT_BYTES = MAX_EVENT_BYTES - EVENT_ENVELOPE_RESERVE;

export function documentBytes(doc: Document): number {
  return BSON.calculateObjectSize(doc, { serializeFunctions: false, ignoreUndefined: false });
}

/**
 * Makes a payload storable: typed arrays and ArrayBuffers become Buffers (stored as BSON Binary, nested
 * anywhere). Everything else is left as is; BSON handles plain JSON-like values.
 */
export function toStorable(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Buffer.isBuffer(value)) return value;
  if (ArrayBuffer.isView(value)) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (value instanceof ArrayBuffer) return Buffer.from(value);
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      const stored = toStorable(item);
      if (stored !== item) (copy ??= value.slice())[i] = stored;
    }
    return copy ?? value;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype && Object.getPrototypeOf(value) !== null) return value;
  let copy: Record<string, unknown> | undefined;
  for (const [key, item] of Object.entries(value)) {
    const stored = toStorable(item);
    if (stored !== item) (copy ??= { ...(value as Record<string, unknown>) })[key] = stored;
  }
  return copy ?? value;
}

interface BsonBinaryLike {
  _bsontype: 'Binary';
  buffer: Uint8Array;
  position: number;
}

function isBinary(value: object): value is BsonBinaryLike {
  return (value as { _bsontype?: unknown })._bsontype === 'Binary';
}

/**
 * The reverse of `toStorable` on what the driver hands back: BSON Binary values (recognised by
 * `_bsontype`, which works across bson copies) become Buffers again, wherever they are nested,
 * so socket.io sends them as binary attachments.
 */
export function fromStored(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Buffer.isBuffer(value)) return value;
  if (isBinary(value)) {
    const bytes = value.buffer;
    return Buffer.from(bytes.buffer, bytes.byteOffset, value.position ?? bytes.byteLength);
  }
  if (ArrayBuffer.isView(value)) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = fromStored(value[i]);
    return value;
  }
  if ((value as { _bsontype?: unknown })._bsontype !== undefined) return value;
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) record[key] = fromStored(record[key]);
  return value;
}

export interface MessageFields {
  kind?: 'message' | 'probe';
  origin: string;
  uid: string;
  nsp: string;
  type: number;
  data?: unknown;
  to?: string;
  echo?: boolean;
  recoverable?: boolean;
  privateTo?: string[];
  deaf?: boolean;
  /** Adds `createdAt` (for a TTL index). */
  createdAt?: boolean;
}

/** Builds the stored document (sequence number 0 until the outbox accepts it). Used by nodes and emitters alike. */
export function messageDocument(fields: MessageFields): MessageDocument {
  const doc: MessageDocument = {
    v: FORMAT_VERSION,
    kind: fields.kind ?? 'message',
    origin: fields.origin,
    seq: 0,
    uid: fields.uid,
    nsp: fields.nsp,
    type: fields.type,
    to: fields.to ?? TO_ALL,
    echo: fields.echo === true,
    recoverable: fields.recoverable === true,
  };
  if (fields.data !== undefined) doc.data = toStorable(fields.data);
  if (fields.privateTo !== undefined && fields.privateTo.length > 0) doc.privateTo = fields.privateTo;
  if (fields.deaf === true) doc.deaf = true;
  if (fields.createdAt !== false) doc.createdAt = new Date();
  return doc;
}

/** The stand-in for a document MongoDB refused for good: same origin, channel and sequence number, no payload. */
export function skipDocument(refused: MessageDocument): MessageDocument {
  const doc: MessageDocument = {
    v: FORMAT_VERSION,
    kind: 'skip',
    origin: refused.origin,
    seq: refused.seq,
    uid: refused.uid,
    nsp: '',
    type: 0,
    to: refused.to,
    echo: false,
    recoverable: false,
  };
  if (refused.createdAt !== undefined) doc.createdAt = new Date();
  return doc;
}
