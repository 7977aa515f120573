import { setTimeout as sleep } from 'node:timers/promises';
import type { Document, Timestamp } from 'bson';
import { ChangeStreamCursor } from './change-streams.js';
import { aggregateCommands } from './commands/aggregate.js';
import { collModCommands } from './commands/coll-mod.js';
import type { CommandContext, CommandSpec } from './commands/context.js';
import { ddlCommands } from './commands/ddl.js';
import { handshakeCommands } from './commands/handshake.js';
import { readCommands } from './commands/reads.js';
import { writeCommands } from './commands/writes.js';
import { CommandError, ErrorCodes } from './errors.js';
import { checkApiParameters } from './api-version.js';
import { serverErrorLabels } from './error-labels.js';
import { ConnectionClosedByFailPoint } from './fail-points.js';
import type { ReplicaSetMember } from './member.js';
import { addTopologyVersion, awaitReadConcern, interruptedByStateChange, refusalForState } from './member-state.js';
import { isPlainObject, toNumber } from './query/values.js';
import { applyWriteConcern, parseWriteConcern } from './write-concern.js';
import { replCommands } from './commands/repl.js';
import { recordSession } from './commands/sessions.js';
import { withCollation } from './query/collation.js';
import { refuseUnsupportedSnapshot } from './snapshots.js';
import {
  abortOnFailure,
  abortTransaction,
  commitTransaction,
  endSessionTransactions,
  enterTransaction,
  handleWriteErrors,
  isTransactionCommand,
  type Transaction,
} from './transactions.js';

const commands: Record<string, CommandSpec> = {
  ...handshakeCommands,
  // mongod registers this alias; drivers' admin().buildInfo() sends the lower-case form.
  buildinfo: handshakeCommands.buildInfo!,
  ...writeCommands,
  ...readCommands,
  ...aggregateCommands,
  ...ddlCommands,
  ...collModCommands,
  ...replCommands,
  configureFailPoint: { handler: (cmd, ctx) => ctx.member.failPoints.configure(cmd) },
  // Run by the dispatcher on the session's transaction (transactions.ts); the handlers are never reached.
  commitTransaction: { handler: () => ({ ok: 1 }), write: true },
  abortTransaction: { handler: () => ({ ok: 1 }), write: true },
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
  return isChangeStreamAggregate(name, cmd);
}

function isChangeStreamAggregate(name: string, cmd: Document): boolean {
  if (name !== 'aggregate' || !Array.isArray(cmd.pipeline)) return false;
  const first = cmd.pipeline[0] as unknown;
  return isPlainObject(first) && '$changeStream' in first;
}

/** `db.coll` a command targets, for failCommand's `namespace` (undefined when it names no collection). */
function namespaceOf(name: string, cmd: Document, db: string): string | undefined {
  const target: unknown = name === 'getMore' ? cmd.collection : cmd[name];
  return typeof target === 'string' ? `${db}.${target}` : undefined;
}

/** Each connection's last write, as mongod's ReplClientInfo keeps it (for the NoWritesPerformed label). */
const lastWriteByConnection = new WeakMap<ReplicaSetMember, Map<number, Timestamp>>();
const MAX_TRACKED_CONNECTIONS = 10_000;

function connectionLastWrite(member: ReplicaSetMember): Map<number, Timestamp> {
  let map = lastWriteByConnection.get(member);
  if (!map) {
    map = new Map();
    lastWriteByConnection.set(member, map);
  }
  return map;
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
  if (body.lsid !== undefined) recordSession(member, body.lsid);
  const writes = connectionLastWrite(member);
  const lastWriteBefore = writes.get(connection.id);
  const appliedBefore = member.lastApplied;
  let reply: Document;
  try {
    reply = await run(name, spec, body, ctx);
    if (ctx.closeConnection) return { close: true };
  } catch (err) {
    if (err === CLOSE || ctx.closeConnection || err instanceof ConnectionClosedByFailPoint) return { close: true };
    const error =
      err instanceof CommandError
        ? err
        : new CommandError(
            ErrorCodes.InternalError,
            `stand-in internal error: ${err instanceof Error ? err.message : String(err)}`,
          );
    error.errorLabels ??= serverErrorLabels(error.code, undefined, {
      commandName: name,
      cmd: body,
      changeStream: name === 'getMore' ? ctx.checkedOut === 'changeStream' : isChangeStreamAggregate(name, body),
      wrote: lastWriteBefore === undefined ? undefined : member.lastApplied !== appliedBefore,
    });
    reply = error.toReply();
  }
  // lastApplied is replaced (never mutated) by each write this member applies.
  if (member.lastApplied !== appliedBefore) {
    if (writes.size >= MAX_TRACKED_CONNECTIONS && !writes.has(connection.id)) {
      writes.delete(writes.keys().next().value as number);
    }
    writes.set(connection.id, member.lastApplied);
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
  const target = { name, namespace: namespaceOf(name, cmd, ctx.db), appName: ctx.connection.appName };
  const point = member.failPoints.takeBeforeCommand(target);
  if (point) {
    if (point.blockTimeMS > 0) await sleep(point.blockTimeMS);
    if (point.closeConnection) {
      member.counters.commandsFailed += 1;
      throw CLOSE;
    }
    if (point.code !== undefined) {
      member.counters.commandsFailed += 1;
      if (point.origin === 'api' && name === 'getMore' && isChangeStreamCommand(name, cmd, member)) {
        ctx.checkedOut = 'changeStream';
      }
      throw new CommandError(point.code, point.errmsg ?? "Failing command via 'failCommand' failpoint", {
        errorLabels: point.errorLabels,
      });
    }
  }
  if (!spec) throw new CommandError(ErrorCodes.CommandNotFound, `no such command: '${name}'`);
  checkApiParameters(name, cmd);
  // A statement of a transaction runs against the transaction's view of the data (transactions.ts).
  const endsTransaction = name === 'commitTransaction' || name === 'abortTransaction';
  let transaction: Transaction | undefined;
  let handlerCtx = ctx;
  if (isTransactionCommand(cmd)) ({ transaction, context: handlerCtx } = enterTransaction(name, cmd, ctx));
  else if (endsTransaction) {
    throw new CommandError(ErrorCodes.InvalidOptions, `${name} must be run within a transaction`);
  }
  refuseUnsupportedSnapshot(name, cmd);
  // Whether this is a change-stream command is decided now: a rollback may kill its cursor meanwhile.
  const changeStream = isChangeStreamCommand(name, cmd, member);
  const labels = (code: number, wcCode?: number) =>
    serverErrorLabels(wcCode === undefined ? code : undefined, wcCode, { commandName: name, cmd, changeStream });
  if (spec.writes?.(cmd)) spec = { ...spec, write: true };
  const rejected = refusalForState(name, spec, cmd, member, labels);
  if (rejected) {
    member.counters.rejectedWhileSteppedDown += 1;
    throw rejected;
  }
  // Statements of a transaction do not wait for a write concern: its commit does.
  const writeConcern = spec.write && (!transaction || endsTransaction) ? parseWriteConcern(cmd) : undefined;
  if (spec.read) await awaitReadConcern(cmd, member, ctx.connection.signal);
  const interruptions = member.interruptions;
  if (name === 'endSessions' || name === 'killSessions') {
    endSessionTransactions(member, Array.isArray(cmd[name]) ? (cmd[name] as unknown[]) : []);
  } else if (name === 'killAllSessions') endSessionTransactions(member, 'all');
  let reply: Document;
  if (transaction && name === 'commitTransaction') reply = commitTransaction(transaction, ctx);
  else if (transaction && name === 'abortTransaction') reply = abortTransaction(transaction);
  else {
    try {
      // A command's collation holds for the string comparisons it makes (update/delete statements carry their own).
      reply = await withCollation(cmd.collation as Document | undefined, () => spec.handler(cmd, handlerCtx));
      if (transaction) handleWriteErrors(transaction, reply);
    } catch (err) {
      if (transaction) abortOnFailure(transaction);
      throw err;
    }
  }
  if (member.interruptions !== interruptions) throw interruptedByStateChange(labels);
  // The optime the write concern waits for: the write's own entries, or (a no-op write, a retry answered from
  // its record) the newest the primary has, as mongod waits for the client's or the system's last optime.
  const writtenAt = member.lastApplied;
  if (spec.write && member.writeLatencyMs > 0) {
    member.counters.writesDelayed += 1;
    await sleep(member.writeLatencyMs);
  }
  // failCommand's writeConcernError applies to any write, a transaction's statements included.
  const injected = spec.write ? member.failPoints.takeWriteConcernError(target) : undefined;
  if (injected?.writeConcernError) {
    // mongod's failCommand replaces the write-concern wait by the given error (service_entry_point_common.cpp).
    reply.writeConcernError = { ...injected.writeConcernError };
    const wcCode = toNumber(injected.writeConcernError.code);
    const given = injected.errorLabels ?? labels(wcCode, wcCode);
    if (given.length > 0) reply.errorLabels = given;
    member.counters.writeConcernErrors += 1;
    return reply;
  }
  if (!writeConcern) return reply;
  await applyWriteConcern(reply, writeConcern, writtenAt, member, ctx.connection.signal, (code) => labels(code, code));
  return reply;
}
