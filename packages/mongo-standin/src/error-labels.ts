import type { Document } from 'bson';
import { NON_RESUMABLE_CHANGE_STREAM_CODES, RESUMABLE_CHANGE_STREAM_CODES, RETRYABLE_WRITE_CODES } from './errors.js';

/**
 * The error labels mongod attaches to a failed command (mongod's ErrorLabelBuilder, error_labels.cpp; the
 * retryable-writes spec's "RetryableWriteError label" and the change-streams spec's "Resumable Error"):
 *
 * - `RetryableWriteError`: the command carries a `txnNumber` outside a transaction (a retryable write) and its
 *   error code, or its write concern error's code, is a retryable one; plus `NoWritesPerformed` when this
 *   connection had written before and the failed command wrote nothing.
 * - `ResumableChangeStreamError`: otherwise, an `aggregate` opening a change stream, or a `getMore` whose
 *   change-stream cursor was already checked out, failed with a resumable code. A getMore failed before it
 *   checks its cursor out (the `failCommand` fail point does that) gets no such label: mongod cannot tell yet
 *   that it belongs to a change stream.
 * - `NonResumableChangeStreamError`: otherwise, codes 280 and 286, whatever the command.
 * - `TransientTransactionError` on commands inside a transaction (the stand-in refuses transactions, see
 *   README).
 */
export interface LabelContext {
  commandName: string;
  cmd: Document;
  /** The command is known to be a change stream (see above for when a getMore is). */
  changeStream: boolean;
  /** Whether the command wrote anything; undefined when mongod could not tell (no earlier write on the connection). */
  wrote?: boolean;
}

/**
 * Codes transient in any statement of a transaction, commit and abort included: WriteConflict, LockTimeout,
 * PreparedTransactionInProgress, StaleDbVersion, and the snapshot and re-targeting errors.
 */
const ALWAYS_TRANSIENT_CODES: ReadonlySet<number> = new Set([112, 24, 267, 249, 239, 246, 13388, 63, 150]);

export function serverErrorLabels(code: number | undefined, wcCode: number | undefined, ctx: LabelContext): string[] {
  const { cmd } = ctx;
  const inTransaction = cmd.txnNumber !== undefined && cmd.autocommit !== undefined;
  if (inTransaction) {
    // mongod's isTransientTransactionError: some codes always are; commit and abort are otherwise retryable
    // themselves (only their NoSuchTransaction without a write concern error is transient).
    const commitOrAbort = ctx.commandName === 'commitTransaction' || ctx.commandName === 'abortTransaction';
    const transient =
      code !== undefined &&
      (ALWAYS_TRANSIENT_CODES.has(code) ||
        (commitOrAbort ? code === 251 && wcCode === undefined : code === 251 || RETRYABLE_WRITE_CODES.has(code)));
    if (transient) return ['TransientTransactionError'];
    const retryable =
      (code !== undefined && RETRYABLE_WRITE_CODES.has(code)) ||
      (wcCode !== undefined && RETRYABLE_WRITE_CODES.has(wcCode));
    return commitOrAbort && retryable ? ['RetryableWriteError'] : [];
  }
  const labels: string[] = [];
  const retryableWrite = cmd.txnNumber !== undefined;
  if (
    retryableWrite &&
    ((code !== undefined && RETRYABLE_WRITE_CODES.has(code)) ||
      (wcCode !== undefined && RETRYABLE_WRITE_CODES.has(wcCode)))
  ) {
    labels.push('RetryableWriteError');
    if (ctx.wrote === false) labels.push('NoWritesPerformed');
    return labels;
  }
  const changeStreamCommand = ctx.commandName === 'aggregate' || ctx.commandName === 'getMore';
  if (
    changeStreamCommand &&
    ctx.changeStream &&
    code !== undefined &&
    wcCode === undefined &&
    RESUMABLE_CHANGE_STREAM_CODES.has(code)
  ) {
    labels.push('ResumableChangeStreamError');
  } else if (code !== undefined && NON_RESUMABLE_CHANGE_STREAM_CODES.has(code)) {
    labels.push('NonResumableChangeStreamError');
  }
  return labels;
}
