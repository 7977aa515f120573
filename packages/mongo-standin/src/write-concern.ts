import type { Document, Timestamp } from 'bson';
import { compareTs } from './clock.js';
import { CommandError, ErrorCodes } from './errors.js';
import type { ReplicaSetMember } from './member.js';
import { isNumeric, isPlainObject, toNumber } from './query/values.js';

/**
 * Write concern, as mongod applies it (https://www.mongodb.com/docs/manual/reference/write-concern/): the write
 * is applied first; the reply then waits until enough members have it. What cannot be satisfied becomes a
 * `writeConcernError` on an otherwise successful reply — the write stays applied.
 */
export interface WriteConcern {
  /** A member count, `'majority'`, or a tag-set name. */
  w: number | string;
  /** 0: wait as long as it takes. */
  wtimeout: number;
  j?: boolean;
  /** mongod reports where the write concern came from: the client, or the server's default. */
  provenance: 'clientSupplied' | 'implicitDefault';
}

/** Write-concern error codes (mongod's error_codes.yml; 7.0 names 64 WriteConcernFailed). */
const WriteConcernCodes = {
  WriteConcernFailed: 64,
  UnknownReplWriteConcern: 79,
  UnsatisfiableWriteConcern: 100,
} as const;

/** mongod's cap on a numeric `w` (a replica set has at most 50 members). */
const MAX_W = 50;

/**
 * The command's write concern, validated before the command runs (as mongod does). Without one, mongod 5.0+
 * uses its implicit default, `{ w: 'majority' }` on a replica set without arbiters.
 */
export function parseWriteConcern(cmd: Document): WriteConcern {
  const raw: unknown = cmd.writeConcern;
  if (raw === undefined || (isPlainObject(raw) && Object.keys(raw).length === 0)) {
    return { w: 'majority', wtimeout: 0, provenance: 'implicitDefault' };
  }
  if (!isPlainObject(raw)) {
    throw new CommandError(
      ErrorCodes.TypeMismatch,
      "BSON field 'writeConcern' is the wrong type, expected type 'object'",
    );
  }
  let w: number | string = 1;
  if (raw.w !== undefined) {
    if (isNumeric(raw.w)) {
      w = Math.trunc(toNumber(raw.w));
      if (w < 0 || w > MAX_W) {
        throw new CommandError(
          ErrorCodes.FailedToParse,
          `w has to be a non-negative number and not greater than ${MAX_W}; found: ${w}`,
        );
      }
    } else if (typeof raw.w === 'string') {
      w = raw.w;
    } else {
      throw new CommandError(ErrorCodes.FailedToParse, 'w has to be a number, string, or object');
    }
  }
  let wtimeout = 0;
  if (raw.wtimeout !== undefined) {
    if (!isNumeric(raw.wtimeout)) throw new CommandError(ErrorCodes.FailedToParse, 'wtimeout must be a number');
    wtimeout = Math.max(0, Math.trunc(toNumber(raw.wtimeout)));
  }
  const wc: WriteConcern = { w, wtimeout, provenance: 'clientSupplied' };
  if (raw.j !== undefined) {
    if (typeof raw.j !== 'boolean' && !isNumeric(raw.j)) {
      throw new CommandError(ErrorCodes.FailedToParse, 'j must be numeric or a boolean value');
    }
    wc.j = typeof raw.j === 'boolean' ? raw.j : toNumber(raw.j) !== 0;
  }
  return wc;
}

function describe(wc: WriteConcern): Document {
  return { w: wc.w, wtimeout: wc.wtimeout, ...(wc.j !== undefined ? { j: wc.j } : {}), provenance: wc.provenance };
}

function writeConcernError(
  code: number,
  codeName: string,
  errmsg: string,
  wc: WriteConcern,
  extra: Document = {},
): Document {
  return { code, codeName, errmsg, errInfo: { ...extra, writeConcern: describe(wc) } };
}

/**
 * Waits until the write at `ts` (the primary's last applied optime after the command) satisfies `wc`. Returns
 * the `writeConcernError` to attach when it cannot: 100 for more members than the set has, 79 for an unknown
 * tag set, 64 (`errInfo.wtimeout: true`) once `wtimeout` passes, 189 if the primary steps down meanwhile.
 * `j` is satisfied at once (the stand-in's writes are in memory). Resolves early, with nothing, if `signal`
 * aborts (the connection dropped: no reply will be sent).
 */
export function awaitWriteConcern(
  member: ReplicaSetMember,
  wc: WriteConcern,
  ts: Timestamp,
  signal: AbortSignal,
): Promise<Document | undefined> {
  const { set } = member;
  if (typeof wc.w === 'number' && wc.w <= 1) return Promise.resolve(undefined);
  if (typeof wc.w === 'number' && wc.w > set.members.length) {
    return Promise.resolve(
      writeConcernError(
        WriteConcernCodes.UnsatisfiableWriteConcern,
        'UnsatisfiableWriteConcern',
        'Not enough data-bearing nodes',
        wc,
      ),
    );
  }
  if (typeof wc.w === 'string' && wc.w !== 'majority') {
    return Promise.resolve(
      writeConcernError(
        WriteConcernCodes.UnknownReplWriteConcern,
        'UnknownReplWriteConcern',
        `No write concern mode named '${wc.w}' found in replica set configuration`,
        wc,
      ),
    );
  }
  const required = wc.w;
  const term = set.term;
  const satisfied = () =>
    required === 'majority' ? compareTs(set.majorityCommitPoint, ts) >= 0 : set.appliedCount(ts) >= required;
  const steppedDown = () => !member.isPrimary || set.term !== term;
  if (satisfied()) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const finish = (error: Document | undefined) => {
      if (timer) clearTimeout(timer);
      unsubscribe();
      signal.removeEventListener('abort', aborted);
      resolve(error);
    };
    const check = () => {
      if (satisfied()) finish(undefined);
      else if (steppedDown()) {
        finish(
          writeConcernError(
            ErrorCodes.PrimarySteppedDown,
            'PrimarySteppedDown',
            'Primary stepped down while waiting for replication',
            wc,
          ),
        );
      }
    };
    const aborted = () => finish(undefined);
    const unsubscribe = set.onProgress(check);
    signal.addEventListener('abort', aborted, { once: true });
    if (wc.wtimeout > 0) {
      timer = setTimeout(
        () =>
          finish(
            writeConcernError(
              WriteConcernCodes.WriteConcernFailed,
              'WriteConcernFailed',
              'waiting for replication timed out',
              wc,
              {
                wtimeout: true,
              },
            ),
          ),
        wc.wtimeout,
      );
    }
    check();
  });
}

/**
 * Waits for the write concern of a successful write reply; what it cannot satisfy goes on the reply as its
 * `writeConcernError`, with the `RetryableWriteError` label mongod adds when the code is a retryable one and
 * the write is (`labelsFor` gives the labels mongod attaches to an error of that code for this command).
 */
export async function applyWriteConcern(
  reply: Document,
  wc: WriteConcern,
  writtenAt: Timestamp,
  member: ReplicaSetMember,
  signal: AbortSignal,
  labelsFor: (code: number) => string[],
): Promise<void> {
  if (reply.ok !== 1 && reply.ok !== true) return;
  const error = await awaitWriteConcern(member, wc, writtenAt, signal);
  if (!error) return;
  reply.writeConcernError = error;
  member.counters.writeConcernErrors += 1;
  if (error.code === WriteConcernCodes.WriteConcernFailed) member.counters.writeConcernTimeouts += 1;
  if (labelsFor(error.code as number).includes('RetryableWriteError')) {
    const labels = Array.isArray(reply.errorLabels) ? (reply.errorLabels as string[]) : [];
    if (!labels.includes('RetryableWriteError')) reply.errorLabels = [...labels, 'RetryableWriteError'];
  }
}
