import type { ChangeStreamOptions, Collection, Document, WriteConcernSettings } from 'mongodb';
import type { BackoffOptions } from './backoff.js';
import { DEFAULT_MAX_DOCUMENT_BYTES, MAX_EVENT_BYTES } from './document.js';
import { MongoAdapterError } from './errors.js';

/** A pino-compatible logger (only these four methods are used). Defaults to silence. */
export interface AdapterLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface MongoAdapterOptions {
  /** ms between two heartbeats of a namespace (socket.io-adapter's option). Default 5000. */
  heartbeatInterval?: number;
  /** ms without news before a node is evicted, and before this node declares itself deaf. Default 10000. */
  heartbeatTimeout?: number;
  /** Coalescing window of the outbox in ms; 0 = one insertMany per event-loop turn. Default 0. */
  batchWindowMs?: number;
  /** Largest insertMany, in documents / bytes. Defaults 1000 / 8 MiB. */
  maxBatchDocs?: number;
  maxBatchBytes?: number;
  /** What may wait in the outbox while MongoDB is unavailable. Defaults 10000 documents / 64 MiB. */
  outboxMaxDocs?: number;
  outboxMaxBytes?: number;
  /** Write concern of every publish. Default `{ w: 'majority' }`. */
  writeConcern?: WriteConcernSettings;
  /**
   * An insertMany, or a change-stream getMore (beyond maxAwaitTimeMS), not settled after this many ms is
   * abandoned and retried / reopened: a hung connection must not stall the node. Default 10000.
   */
  operationTimeoutMs?: number;
  /** Largest stored message in bytes; larger ones are rejected with PAYLOAD_TOO_LARGE. Default 16 MiB - 16 KiB. */
  maxDocumentBytes?: number;
  /** Passed to `collection.watch()` (batchSize, collation, ...). `resumeAfter`/`startAfter`/`startAtOperationTime` are ignored. */
  changeStreamOptions?: ChangeStreamOptions;
  /** `maxAwaitTimeMS` of the change stream's getMore. Default 1000. */
  maxAwaitTimeMS?: number;
  /** Reconnection backoff (exponential, full jitter). Default `{ initialMs: 100, maxMs: 10000 }`. */
  backoff?: Partial<BackoffOptions>;
  /**
   * With connection state recovery, a broadcast is delivered to local sockets when it comes back through the
   * change stream with its server-assigned offset. If it has not come back after this many ms (MongoDB down),
   * it is delivered without an offset. Default: heartbeatTimeout.
   */
  localDeliveryTimeoutMs?: number;
  /** Where recovery sessions live. Default: the adapter's collection. Use a separate one with a capped collection. */
  sessions?: Collection<Document>;
  /** Private packets kept per connected socket for recovery (count / bytes). Defaults 256 / 1 MiB. */
  privateLogSize?: number;
  privateLogBytes?: number;
  /** A session restore reads at most this many change events, and for at most this long. Defaults 100000 / 5000 ms. */
  restoreScanLimit?: number;
  restoreTimeoutMs?: number;
  /** On close, how long to wait for the outbox to drain. Default 5000. */
  closeTimeoutMs?: number;
  logger?: AdapterLogger;
}

export interface ResolvedOptions {
  heartbeatInterval: number;
  heartbeatTimeout: number;
  batchWindowMs: number;
  maxBatchDocs: number;
  maxBatchBytes: number;
  outboxMaxDocs: number;
  outboxMaxBytes: number;
  writeConcern: WriteConcernSettings;
  operationTimeoutMs: number;
  maxDocumentBytes: number;
  changeStreamOptions: ChangeStreamOptions;
  maxAwaitTimeMS: number;
  backoff: BackoffOptions;
  localDeliveryTimeoutMs: number;
  sessions: Collection<Document> | undefined;
  privateLogSize: number;
  privateLogBytes: number;
  restoreScanLimit: number;
  restoreTimeoutMs: number;
  closeTimeoutMs: number;
  logger: AdapterLogger;
}

const noop = () => undefined;
export const silentLogger: AdapterLogger = { debug: noop, info: noop, warn: noop, error: noop };

/** Validates every option at once; all problems are reported in one INVALID_OPTIONS error. */
export function resolveOptions(options: MongoAdapterOptions = {}): Readonly<ResolvedOptions> {
  const problems: string[] = [];
  const int = (
    name: keyof MongoAdapterOptions,
    fallback: number,
    min: number,
    max = Number.MAX_SAFE_INTEGER,
  ): number => {
    const value = options[name];
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      problems.push(`${name} must be an integer in [${min}, ${max}], got ${String(value)}`);
      return fallback;
    }
    return value;
  };
  const heartbeatInterval = int('heartbeatInterval', 5000, 10);
  const heartbeatTimeout = int('heartbeatTimeout', 10_000, 20);
  if (heartbeatTimeout <= heartbeatInterval) problems.push('heartbeatTimeout must be larger than heartbeatInterval');
  const backoffInitial = options.backoff?.initialMs ?? 100;
  const backoffMax = options.backoff?.maxMs ?? 10_000;
  if (!(
    Number.isFinite(backoffInitial) &&
    backoffInitial > 0 &&
    Number.isFinite(backoffMax) &&
    backoffMax >= backoffInitial
  )) {
    problems.push('backoff needs 0 < initialMs <= maxMs');
  }
  const resolved: ResolvedOptions = {
    heartbeatInterval,
    heartbeatTimeout,
    batchWindowMs: int('batchWindowMs', 0, 0, 10_000),
    maxBatchDocs: int('maxBatchDocs', 1000, 1, 100_000),
    maxBatchBytes: int('maxBatchBytes', 8 * 1024 * 1024, 1024, 48 * 1024 * 1024),
    outboxMaxDocs: int('outboxMaxDocs', 10_000, 1),
    outboxMaxBytes: int('outboxMaxBytes', 64 * 1024 * 1024, 1024),
    writeConcern: options.writeConcern ?? { w: 'majority' },
    operationTimeoutMs: int('operationTimeoutMs', 10_000, 10),
    maxDocumentBytes: int('maxDocumentBytes', DEFAULT_MAX_DOCUMENT_BYTES, 1024, DEFAULT_MAX_DOCUMENT_BYTES),
    changeStreamOptions: options.changeStreamOptions ?? {},
    maxAwaitTimeMS: int('maxAwaitTimeMS', 1000, 1, 60_000),
    backoff: { initialMs: backoffInitial, maxMs: backoffMax },
    localDeliveryTimeoutMs: int('localDeliveryTimeoutMs', heartbeatTimeout, 1),
    sessions: options.sessions,
    privateLogSize: int('privateLogSize', 256, 0, 100_000),
    privateLogBytes: int('privateLogBytes', 1024 * 1024, 0, MAX_EVENT_BYTES / 2),
    restoreScanLimit: int('restoreScanLimit', 100_000, 1),
    restoreTimeoutMs: int('restoreTimeoutMs', 5000, 1),
    closeTimeoutMs: int('closeTimeoutMs', 5000, 0),
    logger: options.logger ?? silentLogger,
  };
  if (problems.length > 0) {
    throw new MongoAdapterError('INVALID_OPTIONS', `Invalid adapter options: ${problems.join('; ')}`, {
      details: problems,
    });
  }
  return Object.freeze(resolved);
}
