import type { Document } from 'bson';
import { compareTs } from './clock.js';
import { CommandError, ErrorCodes } from './errors.js';
import type { ReplicaSetMember } from './member.js';
import { isPlainObject, toNumber } from './query/values.js';

/**
 * What a member's replication state allows, as mongod enforces it: writes only on the primary, reads on a
 * secondary only with secondaryOk, getMore on any member that has the cursor (since 4.2 cursors survive a
 * step-down: https://www.mongodb.com/docs/manual/reference/command/replSetStepDown/#client-connections, and
 * the connections-survive-step-down spec's "getMore Iteration" test).
 */

/** mongod's NotPrimaryError category: replies with these codes also carry the member's topologyVersion. */
const NOT_PRIMARY_CODES: ReadonlySet<number> = new Set([
  ErrorCodes.NotWritablePrimary,
  ErrorCodes.NotPrimaryNoSecondaryOk,
  ErrorCodes.NotPrimaryOrSecondary,
  ErrorCodes.InterruptedDueToReplStateChange,
  ErrorCodes.PrimarySteppedDown,
  10058, // LegacyNotPrimary
]);

interface CommandShape {
  write?: boolean;
  read?: boolean;
}

/** A command's `$readPreference` allows a secondary (OP_MSG's form of the secondaryOk bit). */
function secondaryOk(cmd: Document): boolean {
  const mode = isPlainObject(cmd.$readPreference) ? cmd.$readPreference.mode : undefined;
  return mode !== undefined && mode !== 'primary';
}

/** The refusal a non-primary gives this command, or undefined when the member may run it. */
export function refusalForState(
  name: string,
  spec: CommandShape,
  cmd: Document,
  member: ReplicaSetMember,
  labelsFor: (code: number) => string[],
): CommandError | undefined {
  if (member.isPrimary) return undefined;
  if (spec.write) {
    return new CommandError(ErrorCodes.NotWritablePrimary, 'not primary', {
      errorLabels: labelsFor(ErrorCodes.NotWritablePrimary),
    });
  }
  if (spec.read && name !== 'getMore' && !secondaryOk(cmd)) {
    return new CommandError(ErrorCodes.NotPrimaryNoSecondaryOk, 'not primary and secondaryOk=false', {
      errorLabels: labelsFor(ErrorCodes.NotPrimaryNoSecondaryOk),
    });
  }
  return undefined;
}

/** What an operation killed by a replication state change (a rollback) fails with. */
export function interruptedByStateChange(labelsFor: (code: number) => string[]): CommandError {
  return new CommandError(ErrorCodes.InterruptedDueToReplStateChange, 'operation was interrupted', {
    errorLabels: labelsFor(ErrorCodes.InterruptedDueToReplStateChange),
  });
}

/**
 * Adds `topologyVersion` to a reply whose error (or writeConcernError) is a NotPrimaryError, as mongod does for
 * every such reply (server-discovery-and-monitoring spec, "State Change Error"), so a driver can tell a stale
 * error from news.
 */
export function addTopologyVersion(reply: Document, member: ReplicaSetMember): void {
  const code = reply.ok === 0 && typeof reply.code === 'number' ? reply.code : undefined;
  const wce = isPlainObject(reply.writeConcernError) ? reply.writeConcernError.code : undefined;
  if ((code !== undefined && NOT_PRIMARY_CODES.has(code)) || (typeof wce === 'number' && NOT_PRIMARY_CODES.has(wce))) {
    reply.topologyVersion = member.topologyVersion();
  }
}

/**
 * `readConcern.afterClusterTime` (causal consistency): the read waits until this member has applied that
 * optime (majority-committed it, for level 'majority'), up to `maxTimeMS`. A primary behind the requested time
 * writes a no-op to reach it, as mongod does.
 */
export async function awaitReadConcern(cmd: Document, member: ReplicaSetMember, signal: AbortSignal): Promise<void> {
  const rc = cmd.readConcern;
  if (!isPlainObject(rc)) return;
  const after = rc.afterClusterTime as { _bsontype?: string; t: number; i: number } | undefined;
  if (after?._bsontype !== 'Timestamp') return;
  const majority = rc.level === 'majority';
  const reached = () => {
    const position = majority ? member.oplog.majorityCommitPoint : member.lastApplied;
    return position !== undefined && compareTs(position, after) >= 0;
  };
  if (reached()) return;
  if (member.isPrimary && compareTs(member.lastApplied, after) < 0) {
    member.oplog.append({ op: 'noop', db: 'admin', bytes: 64 });
    if (reached()) return;
  }
  const maxTimeMS = cmd.maxTimeMS === undefined ? 0 : toNumber(cmd.maxTimeMS);
  await new Promise<void>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const finish = (error?: Error) => {
      if (timer) clearTimeout(timer);
      unsubscribe();
      signal.removeEventListener('abort', aborted);
      if (error) reject(error);
      else resolve();
    };
    const aborted = () => finish();
    const unsubscribe = member.set.onProgress(() => {
      if (reached()) finish();
    });
    signal.addEventListener('abort', aborted, { once: true });
    if (maxTimeMS > 0) {
      timer = setTimeout(
        () => finish(new CommandError(ErrorCodes.MaxTimeMSExpired, 'operation exceeded time limit')),
        maxTimeMS,
      );
    }
  });
}
