import type { ChangeStreamOptions, Collection, Document, WriteConcernSettings } from 'mongodb';
import type { BackoffOptions } from './backoff.js';
import { DEFAULT_MAX_DOCUMENT_BYTES, MAX_EVENT_BYTES } from './document.js';
import { MongoAdapterError } from './errors.js';
import type { AdapterLogger } from './logging.js';

export type { AdapterLogger } from './logging.js';

export interface MongoAdapterOptions {
  // ---- The options of @socket.io/mongo-adapter, with the same meaning ----

  /** This node's name (unique in the cluster; no `~`). Default: a random id per socket.io server. */
  uid?: string;
  /** ms before `serverSideEmit` acks and `fetchSockets` stop waiting for answers. Default 5000. */
  requestsTimeout?: number;
  /** ms between two heartbeats of a namespace (socket.io-adapter's option). Default 5000. */
  heartbeatInterval?: number;
  /** ms without news before a node is evicted, and before this node declares itself deaf. Default 10000. */
  heartbeatTimeout?: number;
  /**
   * Adds a `createdAt` date to every message document, for a TTL index. Default **true** (the official
   * adapter's default is false; `setupCollection` relies on it); false leaves it out.
   */
  addCreatedAtField?: boolean;
  /**
   * Passed to `collection.watch()` (batchSize, collation, maxAwaitTimeMS...). The stream's position is the
   * adapter's: `resumeAfter`, `startAfter` and `startAtOperationTime` are refused.
   */
  changeStreamOptions?: ChangeStreamOptions;

  // ---- This adapter's own options ----

  /** Coalescing window of the outbox in ms; 0 = one insertMany per event-loop turn. Default 0. */
  batchWindowMs?: number;
  /** Largest insertMany, in documents / bytes. Defaults 1000 / 8 MiB. */
  maxBatchDocs?: number;
  maxBatchBytes?: number;
  /** insertMany batches in flight at once (ordered by sequence numbers at the receivers). Default 4. */
  maxBatchesInFlight?: number;
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
  /** `maxAwaitTimeMS` of the change stream's getMore. Default 1000. */
  maxAwaitTimeMS?: number;
  /** Reconnection backoff (exponential, full jitter). Default `{ initialMs: 100, maxMs: 10000 }`. */
  backoff?: Partial<BackoffOptions>;
  /**
   * Socket writes one event-loop turn may do before the rest of a burst waits for the next turn (so a huge
   * fan-out does not hold back the network). Default 2000.
   */
  maxDeliveriesPerTurn?: number;
  /**
   * With connection state recovery, a broadcast is delivered to local sockets when it comes back through the
   * change stream with its server-assigned offset. If it has not come back after this many ms (MongoDB down),
   * it is delivered without an offset. Default: heartbeatTimeout.
   */
  localDeliveryTimeoutMs?: number;
  /** Where recovery sessions live. Default: the adapter's collection. */
  sessions?: Collection<Document>;
  /** Private packets kept per connected socket for recovery (count / bytes). Defaults 256 / 1 MiB. */
  privateLogSize?: number;
  privateLogBytes?: number;
  /** A session restore reads at most this many change events, and for at most this long. Defaults 100000 / 5000 ms. */
  restoreScanLimit?: number;
  restoreTimeoutMs?: number;
  /** On close, how long to wait for the outbox to drain. Default 5000. */
  closeTimeoutMs?: number;
  /** pino-compatible; the adapter binds `{ uid, component }` (uid: the adapter's node id) once with `child()` when it has one. Default: silent. */
  logger?: AdapterLogger;
}

export interface ResolvedOptions {
  uid: string | undefined;
  requestsTimeout: number;
  heartbeatInterval: number;
  heartbeatTimeout: number;
  addCreatedAtField: boolean;
  changeStreamOptions: ChangeStreamOptions;
  batchWindowMs: number;
  maxBatchDocs: number;
  maxBatchBytes: number;
  maxBatchesInFlight: number;
  outboxMaxDocs: number;
  outboxMaxBytes: number;
  writeConcern: WriteConcernSettings;
  operationTimeoutMs: number;
  maxDocumentBytes: number;
  maxAwaitTimeMS: number;
  backoff: BackoffOptions;
  maxDeliveriesPerTurn: number;
  localDeliveryTimeoutMs: number;
  sessions: Collection<Document> | undefined;
  privateLogSize: number;
  privateLogBytes: number;
  restoreScanLimit: number;
  restoreTimeoutMs: number;
  closeTimeoutMs: number;
  logger: AdapterLogger | undefined;
}

const KNOWN_OPTIONS: ReadonlySet<string> = new Set<keyof MongoAdapterOptions>([
  'uid',
  'requestsTimeout',
  'heartbeatInterval',
  'heartbeatTimeout',
  'addCreatedAtField',
  'changeStreamOptions',
  'batchWindowMs',
  'maxBatchDocs',
  'maxBatchBytes',
  'maxBatchesInFlight',
  'outboxMaxDocs',
  'outboxMaxBytes',
  'writeConcern',
  'operationTimeoutMs',
  'maxDocumentBytes',
  'maxAwaitTimeMS',
  'backoff',
  'maxDeliveriesPerTurn',
  'localDeliveryTimeoutMs',
  'sessions',
  'privateLogSize',
  'privateLogBytes',
  'restoreScanLimit',
  'restoreTimeoutMs',
  'closeTimeoutMs',
  'logger',
]);

/** Stream positions are the adapter's: a user position would silently replay or skip messages. */
const POSITION_OPTIONS = ['resumeAfter', 'startAfter', 'startAtOperationTime'] as const;

const UID_PATTERN = /^[^~\s]{1,128}$/;

/** Validates every option at once; all problems are reported in one INVALID_OPTIONS error. */
export function resolveOptions(options: MongoAdapterOptions = {}): Readonly<ResolvedOptions> {
  const problems: string[] = [];
  if (typeof options !== 'object' || options === null) {
    throw new MongoAdapterError('INVALID_OPTIONS', 'Invalid adapter options: expected an object', {
      details: ['options must be an object'],
    });
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) problems.push(`unknown option "${key}"`);
  }
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

  if (options.uid !== undefined && (typeof options.uid !== 'string' || !UID_PATTERN.test(options.uid))) {
    problems.push('uid must be 1 to 128 characters, without "~" or white space');
  }
  if (options.addCreatedAtField !== undefined && typeof options.addCreatedAtField !== 'boolean') {
    problems.push('addCreatedAtField must be a boolean');
  }

  const changeStreamOptions: ChangeStreamOptions = { ...(options.changeStreamOptions ?? {}) };
  if (typeof options.changeStreamOptions !== 'object' && options.changeStreamOptions !== undefined) {
    problems.push('changeStreamOptions must be an object');
  }
  for (const key of POSITION_OPTIONS) {
    if (changeStreamOptions[key] !== undefined) {
      problems.push(
        `changeStreamOptions.${key} is not supported: the adapter positions (and resumes) its stream itself`,
      );
    }
  }
  let maxAwaitTimeMS = int('maxAwaitTimeMS', 1000, 1, 60_000);
  const streamAwait = changeStreamOptions.maxAwaitTimeMS;
  if (streamAwait !== undefined) {
    if (options.maxAwaitTimeMS !== undefined && options.maxAwaitTimeMS !== streamAwait) {
      problems.push('maxAwaitTimeMS and changeStreamOptions.maxAwaitTimeMS disagree; set one of them');
    } else if (!Number.isInteger(streamAwait) || streamAwait < 1 || streamAwait > 60_000) {
      problems.push('changeStreamOptions.maxAwaitTimeMS must be an integer in [1, 60000]');
    } else {
      maxAwaitTimeMS = streamAwait;
    }
    delete changeStreamOptions.maxAwaitTimeMS;
  }

  const logger = options.logger;
  if (logger !== undefined) {
    const methods = ['debug', 'info', 'warn', 'error'] as const;
    if (typeof logger !== 'object' || logger === null || methods.some((m) => typeof logger[m] !== 'function')) {
      problems.push('logger must have debug, info, warn and error methods');
    }
  }
  if (
    options.writeConcern !== undefined &&
    (typeof options.writeConcern !== 'object' || options.writeConcern === null)
  ) {
    problems.push('writeConcern must be an object');
  }

  const resolved: ResolvedOptions = {
    uid: options.uid,
    requestsTimeout: int('requestsTimeout', 5000, 1),
    heartbeatInterval,
    heartbeatTimeout,
    addCreatedAtField: options.addCreatedAtField !== false,
    changeStreamOptions,
    batchWindowMs: int('batchWindowMs', 0, 0, 10_000),
    maxBatchDocs: int('maxBatchDocs', 1000, 1, 100_000),
    maxBatchBytes: int('maxBatchBytes', 8 * 1024 * 1024, 1024, 48 * 1024 * 1024),
    maxBatchesInFlight: int('maxBatchesInFlight', 4, 1, 64),
    outboxMaxDocs: int('outboxMaxDocs', 10_000, 1),
    outboxMaxBytes: int('outboxMaxBytes', 64 * 1024 * 1024, 1024),
    writeConcern: options.writeConcern ?? { w: 'majority' },
    operationTimeoutMs: int('operationTimeoutMs', 10_000, 10),
    maxDocumentBytes: int('maxDocumentBytes', DEFAULT_MAX_DOCUMENT_BYTES, 1024, DEFAULT_MAX_DOCUMENT_BYTES),
    maxAwaitTimeMS,
    backoff: { initialMs: backoffInitial, maxMs: backoffMax },
    maxDeliveriesPerTurn: int('maxDeliveriesPerTurn', 2000, 1),
    localDeliveryTimeoutMs: int('localDeliveryTimeoutMs', heartbeatTimeout, 1),
    sessions: options.sessions,
    privateLogSize: int('privateLogSize', 256, 0, 100_000),
    privateLogBytes: int('privateLogBytes', 1024 * 1024, 0, MAX_EVENT_BYTES / 2),
    restoreScanLimit: int('restoreScanLimit', 100_000, 1),
    restoreTimeoutMs: int('restoreTimeoutMs', 5000, 1),
    closeTimeoutMs: int('closeTimeoutMs', 5000, 0),
    logger,
  };
  if (problems.length > 0) {
    throw new MongoAdapterError('INVALID_OPTIONS', `Invalid adapter options: ${problems.join('; ')}`, {
      details: problems,
    });
  }
  return Object.freeze(resolved);
}
