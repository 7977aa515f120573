/**
 * Errors of the adapter. Each carries a stable `code`; callers (the gateway, the emitter's users) switch
 * on `code`, never on the message or the class, because two copies of this package may be loaded.
 */
export const ADAPTER_ERRORS = {
  /** The document would not fit in one change event (16 MiB including the event's envelope). Nothing was written. */
  PAYLOAD_TOO_LARGE: 'The message is too large for one MongoDB change event',
  /** The outbox is full (count or bytes) while MongoDB is unavailable; this publish was not queued. */
  OUTBOX_OVERFLOW: 'The outbox is full; the message was not queued',
  /** The adapter or emitter is closed; nothing more is published. */
  ADAPTER_CLOSED: 'The adapter is closed',
  /** MongoDB refused the write (the error is the `cause`). */
  PUBLISH_FAILED: 'MongoDB did not accept the message',
  /** An option is invalid; every problem is listed in `details`. */
  INVALID_OPTIONS: 'Invalid adapter options',
  /** The emitter was asked to emit an event name that socket.io reserves. */
  RESERVED_EVENT: 'This event name is reserved by socket.io',
  /** The emitter cannot wait for acknowledgements. */
  ACK_NOT_SUPPORTED: 'The emitter does not support acknowledgements',
} as const;

export type AdapterErrorCode = keyof typeof ADAPTER_ERRORS;

export class MongoAdapterError extends Error {
  readonly code: AdapterErrorCode;
  readonly details: readonly string[];

  constructor(code: AdapterErrorCode, message?: string, options?: { cause?: unknown; details?: readonly string[] }) {
    super(message ?? ADAPTER_ERRORS[code], options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MongoAdapterError';
    this.code = code;
    this.details = options?.details ?? [];
  }
}

/** What we need to know about a driver or server error, read from plain fields (no `instanceof`). */
export interface ErrorFacts {
  code: number | undefined;
  codeName: string | undefined;
  labels: readonly string[];
  message: string;
}

export function errorFacts(error: unknown): ErrorFacts {
  if (typeof error !== 'object' || error === null) {
    return { code: undefined, codeName: undefined, labels: [], message: String(error) };
  }
  const e = error as { code?: unknown; codeName?: unknown; errorLabels?: unknown; message?: unknown };
  return {
    code: typeof e.code === 'number' ? e.code : undefined,
    codeName: typeof e.codeName === 'string' ? e.codeName : undefined,
    labels: Array.isArray(e.errorLabels) ? e.errorLabels.filter((l): l is string => typeof l === 'string') : [],
    message: typeof e.message === 'string' ? e.message : String(error),
  };
}

/** Server codes that mean "this resume token points at history the server no longer has". */
const HISTORY_LOST_CODES = new Set([286 /* ChangeStreamHistoryLost */, 280 /* ChangeStreamFatalError */]);

export function isHistoryLost(error: unknown): boolean {
  const f = errorFacts(error);
  return (f.code !== undefined && HISTORY_LOST_CODES.has(f.code)) || f.codeName === 'ChangeStreamHistoryLost';
}

/**
 * Write errors that will fail again however often we retry the same document: the document itself is bad.
 * Everything else (network, step-down, write-concern timeouts, failed commands) is retried.
 */
const PERMANENT_DOCUMENT_CODES = new Set([
  2 /* BadValue */, 10334 /* BSONObjectTooLarge */, 17419 /* document too large for capped collection */,
  17280 /* KeyTooLong */, 52 /* DollarPrefixedFieldName */, 55 /* InvalidDBRef */, 57 /* DottedFieldName */,
  121 /* DocumentValidationFailure */,
  // A duplicate key on a message document can only come from an index the user added (every attempt
  // carries a fresh _id, and the driver's own retry is deduplicated by the server): it will fail again.
  11000 /* DuplicateKey */,
]);

export function isPermanentDocumentError(code: number | undefined): boolean {
  return code !== undefined && PERMANENT_DOCUMENT_CODES.has(code);
}
