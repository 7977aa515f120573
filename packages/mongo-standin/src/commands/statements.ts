import type { Document } from 'bson';
import { CommandError } from '../errors.js';
import { canonicalKey, cloneValue, isNumeric, isPlainObject, toNumber } from '../query/values.js';
import type { CommandContext } from './context.js';

/**
 * The statements of a write command, executed as mongod executes a retryable write (retryable-writes spec,
 * "Retryable Writes" in the manual: https://www.mongodb.com/docs/manual/core/retryable-writes/): each statement
 * (`stmtId`: the command's `stmtIds`, else `stmtId` plus its index, else its index) runs at most once per
 * `lsid` + `txnNumber`. A retry answers the statements that already ran from their record and runs only the
 * others, so a command cut off half-way is completed, never applied twice.
 *
 * The `onPrimaryTransactionalWrite` fail point fires here, once per statement executed on the primary:
 * `failBeforeCommitExceptionCode` fails the statement without applying it, `closeConnection` (default true)
 * closes the connection once the command is done.
 */
export class Statements {
  private readonly key: string | undefined;
  private readonly stmtIds: number[] | undefined;
  private readonly firstStmtId: number;
  private replayed = false;

  constructor(
    private readonly ctx: CommandContext,
    cmd: Document,
  ) {
    const retryable = cmd.txnNumber !== undefined && isPlainObject(cmd.lsid) && cmd.autocommit === undefined;
    this.key = retryable ? `${canonicalKey(cmd.lsid)}:${toNumber(cmd.txnNumber)}` : undefined;
    this.stmtIds = Array.isArray(cmd.stmtIds) ? cmd.stmtIds.map(toNumber) : undefined;
    this.firstStmtId = isNumeric(cmd.stmtId) ? toNumber(cmd.stmtId) : 0;
  }

  /** Runs statement `index` (or returns its recorded outcome); the outcome must be a fresh document. */
  run<T extends Document>(index: number, apply: () => T): T {
    if (this.key === undefined) return apply();
    const { member } = this.ctx;
    const stmtId = this.stmtIds?.[index] ?? this.firstStmtId + index;
    const recordKey = `${this.key}:${stmtId}`;
    const recorded = member.retryRecord(recordKey);
    if (recorded) {
      if (!this.replayed) member.counters.retriedWritesDeduplicated += 1;
      this.replayed = true;
      return cloneValue(recorded) as T;
    }
    const failPoint = member.failPoints.takeNamed('onPrimaryTransactionalWrite');
    if (failPoint) {
      if (failPoint.closeConnection !== false) this.ctx.closeConnection = true;
      if (isNumeric(failPoint.failBeforeCommitExceptionCode)) {
        throw new CommandError(
          toNumber(failPoint.failBeforeCommitExceptionCode),
          `Failing write for ${this.key}:${stmtId} due to failpoint. The write must not be reflected.`,
        );
      }
    }
    const outcome = apply();
    member.rememberRetry(recordKey, cloneValue(outcome));
    return outcome;
  }
}
