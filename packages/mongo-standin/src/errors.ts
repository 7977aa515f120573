import type { Document } from 'bson';

/**
 * MongoDB server error codes the stand-in can return. Numbers and names are MongoDB's own
 * (src/mongo/base/error_codes.yml), so drivers classify them exactly as they would a real server's.
 */
export const ErrorCodes = {
  InternalError: 1,
  BadValue: 2,
  NoSuchKey: 4,
  HostUnreachable: 6,
  HostNotFound: 7,
  FailedToParse: 9,
  TypeMismatch: 14,
  InvalidLength: 16,
  IllegalOperation: 20,
  InvalidBSON: 22,
  NamespaceNotFound: 26,
  IndexNotFound: 27,
  Unauthorized: 13,
  CursorNotFound: 43,
  NamespaceExists: 48,
  MaxTimeMSExpired: 50,
  DollarPrefixedFieldName: 52,
  CommandNotFound: 59,
  ImmutableField: 66,
  InvalidOptions: 72,
  InvalidNamespace: 73,
  IndexOptionsConflict: 85,
  IndexKeySpecsConflict: 86,
  NetworkTimeout: 89,
  ShutdownInProgress: 91,
  PrimarySteppedDown: 189,
  ExceededTimeLimit: 262,
  InvalidResumeToken: 260,
  OperationNotSupportedInTransaction: 263,
  ChangeStreamFatalError: 280,
  ChangeStreamHistoryLost: 286,
  Location40324: 40324,
  SocketException: 9001,
  NotWritablePrimary: 10107,
  BSONObjectTooLarge: 10334,
  DuplicateKey: 11000,
  InterruptedAtShutdown: 11600,
  InterruptedDueToReplStateChange: 11602,
  NotPrimaryNoSecondaryOk: 13435,
  NotPrimaryOrSecondary: 13436,
  UnknownError: 8,
  LockTimeout: 24,
  PathNotViable: 28,
  StaleShardVersion: 63,
  WriteConcernFailed: 64,
  UnknownReplWriteConcern: 79,
  UnsatisfiableWriteConcern: 100,
  FailedToSatisfyReadPreference: 133,
  ReadConcernMajorityNotAvailableYet: 134,
  CappedPositionLost: 136,
  ViewDepthLimitExceeded: 149,
  StaleEpoch: 150,
  TransactionTooOld: 225,
  RetryChangeStream: 234,
  SnapshotUnavailable: 246,
  TransactionCommitted: 256,
  Interrupted: 11601,
  StaleConfig: 13388,
  LegacyNotPrimary: 10058,
  NoMatchingDocument: 47,
  InvalidIdField: 53,
  CannotCreateIndex: 67,
  DocumentValidationFailure: 121,
  CommandNotSupportedOnView: 166,
  OptionNotSupportedOnView: 167,
  InvalidPipelineOperator: 168,
  CommandNotSupported: 115,
  SnapshotTooOld: 239,
  NoSuchTransaction: 251,
  WriteConflict: 112,
  ConflictingOperationInProgress: 117,
} as const;

const codeNames = new Map<number, string>(Object.entries(ErrorCodes).map(([name, code]) => [code, name]));

/** MongoDB's name for a code, as it appears in `codeName`; unknown codes get MongoDB's `Location<code>` form. */
export function codeNameOf(code: number): string {
  return codeNames.get(code) ?? `Location${code}`;
}

/**
 * A command failure shaped the way mongod reports it: `{ ok: 0, errmsg, code, codeName, errorLabels?, ...extra }`.
 * Thrown anywhere inside a command handler; the dispatcher turns it into the reply document.
 */
export class CommandError extends Error {
  readonly code: number;
  readonly codeName: string;
  /** Labels fixed by whoever threw it; undefined lets the dispatcher attach the ones mongod would. */
  errorLabels: string[] | undefined;
  readonly extra: Document;

  constructor(
    code: number,
    errmsg: string,
    options: { errorLabels?: string[]; extra?: Document; codeName?: string } = {},
  ) {
    super(errmsg);
    this.name = 'CommandError';
    this.code = code;
    this.codeName = options.codeName ?? codeNameOf(code);
    this.errorLabels = options.errorLabels;
    this.extra = options.extra ?? {};
  }

  toReply(): Document {
    const reply: Document = { ok: 0, errmsg: this.message, code: this.code, codeName: this.codeName, ...this.extra };
    if (this.errorLabels !== undefined && this.errorLabels.length > 0) reply.errorLabels = this.errorLabels;
    return reply;
  }
}

export const badValue = (msg: string) => new CommandError(ErrorCodes.BadValue, msg);
export const failedToParse = (msg: string) => new CommandError(ErrorCodes.FailedToParse, msg);
export const typeMismatch = (msg: string) => new CommandError(ErrorCodes.TypeMismatch, msg);

/** Codes for which mongod labels a failed retryable write `RetryableWriteError` (retryable-writes spec). */
export const RETRYABLE_WRITE_CODES: ReadonlySet<number> = new Set([
  6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436, 134,
]);

/** Codes for which mongod (4.4+) labels a failed change-stream getMore `ResumableChangeStreamError`. */
export const RESUMABLE_CHANGE_STREAM_CODES: ReadonlySet<number> = new Set([
  6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436, 63, 150, 13388, 234, 133,
]);

/** Codes mongod labels `NonResumableChangeStreamError` on any command (drivers then never resume). */
export const NON_RESUMABLE_CHANGE_STREAM_CODES: ReadonlySet<number> = new Set([280, 286]);

/** A misuse of the stand-in's own JavaScript API (not a MongoDB command error). */
export class StandInError extends Error {
  readonly code: 'STANDIN_INVALID_OPTION' | 'STANDIN_NOT_RUNNING' | 'STANDIN_LISTEN_FAILED';

  constructor(code: StandInError['code'], message: string) {
    super(message);
    this.name = 'StandInError';
    this.code = code;
  }
}

export function requireNonNegativeMs(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new StandInError(
      'STANDIN_INVALID_OPTION',
      `${name} must be a finite number of milliseconds >= 0, got ${String(value)}`,
    );
  }
  return value;
}
