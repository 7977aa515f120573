import { setTimeout as sleep } from 'node:timers/promises';
import type { Document } from 'bson';
import { ChangeStreamCursor } from './change-streams.js';
import { aggregateCommands } from './commands/aggregate.js';
import { collModCommands } from './commands/coll-mod.js';
import type { CommandContext, CommandSpec } from './commands/context.js';
import { ddlCommands } from './commands/ddl.js';
import { handshakeCommands } from './commands/handshake.js';
import { readCommands } from './commands/reads.js';
import { writeCommands } from './commands/writes.js';
import {
  CommandError,
  ErrorCodes,
  NON_RESUMABLE_CHANGE_STREAM_CODES,
  RESUMABLE_CHANGE_STREAM_CODES,
  RETRYABLE_WRITE_CODES,
} from './errors.js';
import { configureFailPoint } from './faults.js';
import type { FailPoint, ReplicaSetMember } from './member.js';
import { addTopologyVersion, awaitReadConcern, interruptedByStateChange, refusalForState } from './member-state.js';
import { canonicalKey, isPlainObject, toNumber } from './query/values.js';
import { applyWriteConcern, parseWriteConcern } from './write-concern.js';
import { replCommands } from './commands/repl.js';

const commands: Record<string, CommandSpec> = {
  ...handshakeCommands,
  ...writeCommands,
  ...readCommands,
  ...aggregateCommands,
  ...ddlCommands,
  ...collModCommands,
  ...replCommands,
  configureFailPoint: { handler: (cmd, ctx) => configureFailPoint(cmd, ctx.member) },
};

/** Names the stand-in answers, for its README and tests. */
export const supportedCommands: readonly string[] = Object.keys(commands).sort();

/** The connection's verdict: a reply document, no reply (moreToCome), or close the socket. */
export type DispatchResult = { reply: Document } | { noReply: true } | { close: true };

export interface DispatchConnection {
  id: number;
  signal: AbortSignal;
  appName?: string;
}

function isChangeStreamCommand(name: string, cmd: Document, member: ReplicaSetMember): boolean {
  if (name === 'getMore') {
    const id = toNumber(cmd.getMore);
    return member.cursors.has(id) && member.cursors.get(id) instanceof ChangeStreamCursor;
  }
  if (name === 'aggregate' && Array.isArray(cmd.pipeline)) {
    const first = cmd.pipeline[0] as unknown;
    return isPlainObject(first) && '$changeStream' in first;
  }
  return false;
}

/** The labels mongod itself attaches to an error of this command (used when a fault gives none). */
function labelsFor(
  code: number,
  name: string,
  spec: CommandSpec | undefined,
  cmd: Document,
  member: ReplicaSetMember,
): string[] {
  const labels: string[] = [];
  if (spec?.retryableWrite && cmd.txnNumber !== undefined && RETRYABLE_WRITE_CODES.has(code))
    labels.push('RetryableWriteError');
  if (RESUMABLE_CHANGE_STREAM_CODES.has(code) && isChangeStreamCommand(name, cmd, member))
    labels.push('ResumableChangeStreamError');
  if (NON_RESUMABLE_CHANGE_STREAM_CODES.has(code)) labels.push('NonResumableChangeStreamError');
  return labels;
}

function takeFailPoint(member: ReplicaSetMember, name: string, appName: string | undefined): FailPoint | undefined {
  for (const point of member.failPoints) {
    if (!point.commands.has(name)) continue;
    if (point.appName !== undefined && point.appName !== appName) continue;
    if (point.skip > 0) {
      point.skip -= 1;
      continue;
    }
    point.remaining -= 1;
    if (point.remaining <= 0) member.failPoints = member.failPoints.filter((p) => p !== point);
    return point;
  }
  return undefined;
}

/** Options that would change results: failing loudly beats answering as if they were honoured. */
function rejectUnsupportedOptions(cmd: Document): void {
  const statements = [
    cmd,
    ...(Array.isArray(cmd.updates) ? cmd.updates : []),
    ...(Array.isArray(cmd.deletes) ? cmd.deletes : []),
  ];
  for (const statement of statements) {
    if (!isPlainObject(statement)) continue;
    if (statement.collation !== undefined)
      throw new CommandError(ErrorCodes.BadValue, 'collation is not supported by the stand-in');
    if (Array.isArray(statement.arrayFilters) && statement.arrayFilters.length > 0) {
      throw new CommandError(ErrorCodes.BadValue, 'arrayFilters are not supported by the stand-in');
    }
  }
}

function retryKey(spec: CommandSpec, cmd: Document): string | undefined {
  if (!spec.retryableWrite || cmd.txnNumber === undefined || !isPlainObject(cmd.lsid)) return undefined;
  return `${canonicalKey(cmd.lsid)}:${toNumber(cmd.txnNumber)}`;
}

/**
 * Runs one command the way mongod's service entry point would: fault checks first, then the handler;
 * every reply, success or error, carries `$clusterTime` and `operationTime`. Never throws.
 */
export async function dispatch(
  body: Document,
  db: string,
  member: ReplicaSetMember,
  connection: DispatchConnection,
): Promise<DispatchResult> {
  const name = Object.keys(body)[0] ?? '';
  member.counters.commands += 1;
  member.counters.commandsByName[name] = (member.counters.commandsByName[name] ?? 0) + 1;
  const spec = Object.prototype.hasOwnProperty.call(commands, name) ? commands[name] : undefined;
  const ctx: CommandContext = { db, member, connection };
  let reply: Document;
  try {
    reply = await run(name, spec, body, ctx);
  } catch (err) {
    if (err === CLOSE) return { close: true };
    reply =
      err instanceof CommandError
        ? err.toReply()
        : new CommandError(
            ErrorCodes.InternalError,
            `stand-in internal error: ${err instanceof Error ? err.message : String(err)}`,
          ).toReply();
  }
  addTopologyVersion(reply, member);
  reply.$clusterTime = member.clusterTimeDocument();
  reply.operationTime = member.operationTime();
  return { reply };
}

const CLOSE = Symbol('close connection');

async function run(name: string, spec: CommandSpec | undefined, cmd: Document, ctx: CommandContext): Promise<Document> {
  const { member } = ctx;
  if (typeof ctx.db !== 'string' || ctx.db.length === 0) {
    throw new CommandError(40571, 'OP_MSG requests require a $db argument', { codeName: 'Location40571' });
  }
  const point = takeFailPoint(member, name, ctx.connection.appName);
  if (point) {
    if (point.blockTimeMS > 0) await sleep(point.blockTimeMS);
    if (point.closeConnection) {
      member.counters.commandsFailed += 1;
      throw CLOSE;
    }
    if (point.code !== undefined) {
      member.counters.commandsFailed += 1;
      throw new CommandError(point.code, point.errmsg ?? `Failing command ${name} via 'failCommand' failpoint`, {
        errorLabels: point.errorLabels ?? labelsFor(point.code, name, spec, cmd, member),
      });
    }
  }
  if (!spec) throw new CommandError(ErrorCodes.CommandNotFound, `no such command: '${name}'`);
  if (cmd.autocommit === false || cmd.startTransaction === true) {
    // Not IllegalOperation (20): on a write the driver rewrites 20 into its "MMAPv1, use retryWrites=false" error.
    throw new CommandError(
      ErrorCodes.OperationNotSupportedInTransaction,
      'Transactions are not supported by the stand-in',
    );
  }
  rejectUnsupportedOptions(cmd);
  // Whether this is a change-stream command is decided now: a rollback may kill its cursor meanwhile.
  const changeStream = isChangeStreamCommand(name, cmd, member);
  const labels = (code: number) => {
    const found = labelsFor(code, name, spec, cmd, member);
    if (changeStream && RESUMABLE_CHANGE_STREAM_CODES.has(code) && !found.includes('ResumableChangeStreamError'))
      found.push('ResumableChangeStreamError');
    return found;
  };
  const rejected = refusalForState(name, spec, cmd, member, labels);
  if (rejected) {
    member.counters.rejectedWhileSteppedDown += 1;
    throw rejected;
  }
  const writeConcern = spec.write ? parseWriteConcern(cmd) : undefined;
  if (spec.read) await awaitReadConcern(cmd, member, ctx.connection.signal);
  const interruptions = member.interruptions;
  const key = retryKey(spec, cmd);
  const recorded = key === undefined ? undefined : member.retryRecord(key);
  let reply: Document;
  if (recorded) {
    member.counters.retriedWritesDeduplicated += 1;
    reply = { ...recorded };
  } else {
    reply = await spec.handler(cmd, ctx);
    if (member.interruptions !== interruptions) throw interruptedByStateChange(labels);
    if (key !== undefined) member.rememberRetry(key, { ...reply });
  }
  // The optime the write concern waits for: the write's own entries, or (a no-op write, a retry answered from
  // its record) the newest the primary has, as mongod waits for the client's or the system's last optime.
  const writtenAt = member.lastApplied;
  if (spec.write && member.writeLatencyMs > 0) {
    member.counters.writesDelayed += 1;
    await sleep(member.writeLatencyMs);
  }
  if (writeConcern) await applyWriteConcern(reply, writeConcern, writtenAt, member, ctx.connection.signal, labels);
  return reply;
}
