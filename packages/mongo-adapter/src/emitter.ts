import { randomBytes } from 'node:crypto';
import type { Collection, Document, WriteConcernSettings } from 'mongodb';
import { MessageType } from 'socket.io-adapter';
import {
  DEFAULT_MAX_DOCUMENT_BYTES,
  documentBytes,
  messageDocument,
  skipDocument,
  TO_ALL,
  type MessageDocument,
} from './document.js';
import { MongoAdapterError } from './errors.js';
import { Outbox } from './outbox.js';
import { Numbering } from './sequencing.js';
import { EVENT_PACKET, isRecoverablePacket } from './socket-io-shim.js';

export interface MongoEmitterOptions {
  /** Default namespace. Default '/'. */
  nsp?: string;
  /** Default `{ w: 'majority' }`. */
  writeConcern?: WriteConcernSettings;
  /** Largest stored message; larger ones reject with PAYLOAD_TOO_LARGE. Default 16 MiB - 16 KiB. */
  maxDocumentBytes?: number;
  /** Coalescing window for concurrent emits (one insertMany). Default 0 (same event-loop turn). */
  batchWindowMs?: number;
  /** An emit whose write has not settled after this many ms rejects with PUBLISH_FAILED. Default 10000. */
  operationTimeoutMs?: number;
  /** Adds `createdAt` to every document, for a TTL index. Default true (as the adapter). */
  addCreatedAtField?: boolean;
}

const RESERVED_EVENTS = new Set([
  'connect',
  'connect_error',
  'disconnect',
  'disconnecting',
  'newListener',
  'removeListener',
]);

/** socket.io's own uid for emitters: nodes do not count it as a server. */
const EMITTER_UID = 'emitter';

interface EmitterFlags {
  volatile?: boolean;
  compress?: boolean;
}

/** What every operator of one emitter shares: its identity, its sequence and its ordered outbox. */
class EmitterCore {
  readonly origin = `emitter-${randomBytes(8).toString('hex')}`;
  private readonly numbering = new Numbering();
  readonly outbox: Outbox;
  readonly maxDocumentBytes: number;
  private readonly createdAt: boolean;

  constructor(collection: Collection<Document>, options: MongoEmitterOptions) {
    this.maxDocumentBytes = options.maxDocumentBytes ?? DEFAULT_MAX_DOCUMENT_BYTES;
    this.createdAt = options.addCreatedAtField !== false;
    this.outbox = new Outbox(
      collection,
      {
        batchWindowMs: options.batchWindowMs ?? 0,
        maxBatchDocs: 1000,
        maxBatchBytes: 8 * 1024 * 1024,
        // One batch at a time: an emitter's failed batch is rejected, not retried after later ones.
        maxInFlight: 1,
        maxQueuedDocs: 100_000,
        maxQueuedBytes: 256 * 1024 * 1024,
        writeConcern: options.writeConcern ?? { w: 'majority' },
        operationTimeoutMs: options.operationTimeoutMs ?? 10_000,
        backoff: { initialMs: 50, maxMs: 1000 },
        // Errors are the caller's to handle: a failed batch rejects its emits, nothing is retried silently.
        retryForever: false,
      },
      {
        onBatchWritten: () => undefined,
        onBatchFailed: () => undefined,
        onOverflow: () => undefined,
        onDepth: () => undefined,
        beforeSend: (copy) => {
          copy.low = this.numbering.low(TO_ALL);
        },
        // Written, or given up (its emit rejected): either way receivers must not wait for it.
        settled: (doc) => this.numbering.settle(TO_ALL, (doc as MessageDocument).seq),
        replacementFor: (refused) => skipDocument(refused as MessageDocument),
      },
    );
  }

  publish(nsp: string, type: number, data: unknown, recoverable = false): Promise<void> {
    const doc = messageDocument({
      origin: this.origin,
      uid: EMITTER_UID,
      nsp,
      type,
      data,
      recoverable,
      createdAt: this.createdAt,
    });
    let bytes: number;
    try {
      bytes = documentBytes(doc);
    } catch (error) {
      return Promise.reject(
        new MongoAdapterError('PUBLISH_FAILED', 'The message cannot be stored as BSON', { cause: error }),
      );
    }
    if (bytes > this.maxDocumentBytes) {
      return Promise.reject(
        new MongoAdapterError(
          'PAYLOAD_TOO_LARGE',
          `The message is ${bytes} bytes; at most ${this.maxDocumentBytes} fit in one change event`,
        ),
      );
    }
    return this.outbox.enqueue(doc, bytes, () => {
      doc.seq = this.numbering.assign(TO_ALL);
    });
  }
}

/**
 * Publishes to socket.io servers that use this adapter, from any Node process, without a socket.io server.
 * Every call resolves once the message is written (with the write concern) and rejects with a coded error
 * otherwise. Operators are immutable: `emitter.to('a')` does not change `emitter`.
 */
export class MongoEmitter {
  constructor(
    private readonly core: EmitterCore,
    private readonly nsp: string,
    private readonly rooms: ReadonlySet<string> = new Set(),
    private readonly exceptRooms: ReadonlySet<string> = new Set(),
    private readonly flags: Readonly<EmitterFlags> = {},
  ) {}

  /** The same emitter for another namespace. */
  of(nsp: string): MongoEmitter {
    return new MongoEmitter(this.core, nsp.startsWith('/') ? nsp : `/${nsp}`);
  }

  to(room: string | readonly string[]): MongoEmitter {
    const rooms = new Set(this.rooms);
    for (const r of typeof room === 'string' ? [room] : room) rooms.add(r);
    return new MongoEmitter(this.core, this.nsp, rooms, this.exceptRooms, this.flags);
  }

  in(room: string | readonly string[]): MongoEmitter {
    return this.to(room);
  }

  except(room: string | readonly string[]): MongoEmitter {
    const except = new Set(this.exceptRooms);
    for (const r of typeof room === 'string' ? [room] : room) except.add(r);
    return new MongoEmitter(this.core, this.nsp, this.rooms, except, this.flags);
  }

  get volatile(): MongoEmitter {
    return new MongoEmitter(this.core, this.nsp, this.rooms, this.exceptRooms, { ...this.flags, volatile: true });
  }

  compress(compress: boolean): MongoEmitter {
    return new MongoEmitter(this.core, this.nsp, this.rooms, this.exceptRooms, { ...this.flags, compress });
  }

  /** Emits to every matching client of every node. */
  emit(event: string, ...args: unknown[]): Promise<void> {
    if (RESERVED_EVENTS.has(event))
      return Promise.reject(new MongoAdapterError('RESERVED_EVENT', `"${event}" is a reserved event name`));
    if (typeof args[args.length - 1] === 'function') return Promise.reject(new MongoAdapterError('ACK_NOT_SUPPORTED'));
    const packet = { type: EVENT_PACKET, data: [event, ...args], nsp: this.nsp };
    const data = { packet, opts: this.encodedOptions() };
    return this.core.publish(
      this.nsp,
      MessageType.BROADCAST,
      data,
      isRecoverablePacket(packet, this.flags.volatile ? true : undefined),
    );
  }

  socketsJoin(rooms: string | readonly string[]): Promise<void> {
    return this.core.publish(this.nsp, MessageType.SOCKETS_JOIN, {
      opts: this.encodedOptions(),
      rooms: typeof rooms === 'string' ? [rooms] : [...rooms],
    });
  }

  socketsLeave(rooms: string | readonly string[]): Promise<void> {
    return this.core.publish(this.nsp, MessageType.SOCKETS_LEAVE, {
      opts: this.encodedOptions(),
      rooms: typeof rooms === 'string' ? [rooms] : [...rooms],
    });
  }

  disconnectSockets(close = false): Promise<void> {
    return this.core.publish(this.nsp, MessageType.DISCONNECT_SOCKETS, { opts: this.encodedOptions(), close });
  }

  /** Emits to the servers themselves (`io.on(event)` handlers); acknowledgements are not supported. */
  serverSideEmit(event: string, ...args: unknown[]): Promise<void> {
    if (RESERVED_EVENTS.has(event))
      return Promise.reject(new MongoAdapterError('RESERVED_EVENT', `"${event}" is a reserved event name`));
    if (typeof args[args.length - 1] === 'function') return Promise.reject(new MongoAdapterError('ACK_NOT_SUPPORTED'));
    return this.core.publish(this.nsp, MessageType.SERVER_SIDE_EMIT, { packet: [event, ...args] });
  }

  /** Waits for queued emits (up to `timeoutMs`), then refuses new ones. The MongoClient is the caller's. */
  async close(timeoutMs = 5000): Promise<void> {
    await this.core.outbox.drain(timeoutMs);
    this.core.outbox.close();
  }

  private encodedOptions(): { rooms: string[]; except: string[]; flags: EmitterFlags } {
    const flags: EmitterFlags = {};
    if (this.flags.volatile) flags.volatile = true;
    if (this.flags.compress !== undefined) flags.compress = this.flags.compress;
    return { rooms: [...this.rooms], except: [...this.exceptRooms], flags };
  }
}

export function createEmitter(collection: Collection<Document>, options: MongoEmitterOptions = {}): MongoEmitter {
  return new MongoEmitter(new EmitterCore(collection, options), options.nsp ?? '/');
}
