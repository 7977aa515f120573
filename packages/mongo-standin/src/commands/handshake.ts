import { Long, type Document } from 'bson';
import { CommandError, ErrorCodes } from '../errors.js';
import { isNumeric, isPlainObject, toNumber } from '../query/values.js';
import { MAX_MESSAGE_SIZE_BYTES } from '../wire.js';
import { MAX_BSON_OBJECT_SIZE } from '../store.js';
import type { CommandContext, CommandSpec } from './context.js';

/** MongoDB 7.0's wire version: within the range the 6.x and 7.x drivers accept. */
export const MAX_WIRE_VERSION = 21;
export const SERVER_VERSION = '7.0.0';

/**
 * hello / legacy isMaster, as a replica set member answers it: the set's hosts, who is primary (absent while
 * electing), this member's state, `electionId` on the primary, `lastWrite` optimes, and `topologyVersion`.
 * An awaitable hello (`topologyVersion` + `maxAwaitTimeMS`, server-monitoring spec) waits until the member's
 * topology version changes or the time passes; with the exhaustAllowed flag the connection keeps streaming
 * them (connection.ts), so drivers learn of a step-down or an election at once.
 */
async function hello(cmd: Document, ctx: CommandContext, legacy: boolean): Promise<Document> {
  const { member } = ctx;
  const awaitable = cmd.topologyVersion !== undefined || cmd.maxAwaitTimeMS !== undefined;
  if (awaitable) {
    const known = cmd.topologyVersion as { processId?: unknown; counter?: unknown } | undefined;
    if (!isPlainObject(known) || cmd.maxAwaitTimeMS === undefined || !isNumeric(cmd.maxAwaitTimeMS)) {
      throw new CommandError(
        ErrorCodes.TypeMismatch,
        'topologyVersion must be provided if and only if maxAwaitTimeMS is provided',
      );
    }
    await member.awaitTopologyChange(
      { processId: known.processId, counter: isNumeric(known.counter) ? toNumber(known.counter) : -1 },
      Math.max(0, toNumber(cmd.maxAwaitTimeMS)),
      ctx.connection.signal,
    );
  }
  const { set } = member;
  const primary = set.primary;
  const isPrimary = primary === member;
  const now = new Date();
  const term = Long.fromNumber(set.term);
  const majority = member.oplog.majorityCommitPoint ?? member.lastApplied;
  return {
    topologyVersion: member.topologyVersion(),
    hosts: set.members.map((m) => m.address),
    setName: member.setName,
    setVersion: set.setVersion,
    [legacy ? 'ismaster' : 'isWritablePrimary']: isPrimary,
    secondary: !isPrimary,
    ...(primary ? { primary: primary.address } : {}),
    me: member.address,
    ...(isPrimary ? { electionId: member.electionId() } : {}),
    lastWrite: {
      opTime: { ts: member.lastApplied, t: term },
      lastWriteDate: member.lastAppliedWall,
      majorityOpTime: { ts: majority, t: term },
      majorityWriteDate: member.lastAppliedWall,
    },
    ...(cmd.helloOk === true ? { helloOk: true } : {}),
    maxBsonObjectSize: MAX_BSON_OBJECT_SIZE,
    maxMessageSizeBytes: MAX_MESSAGE_SIZE_BYTES,
    maxWriteBatchSize: 100_000,
    localTime: now,
    logicalSessionTimeoutMinutes: 30,
    connectionId: ctx.connection.id,
    minWireVersion: 0,
    maxWireVersion: MAX_WIRE_VERSION,
    readOnly: false,
    ok: 1,
  };
}

const ok = (): Document => ({ ok: 1 });

/** serverStatus.repl: the member's view of the set, as hello gives it. */
function replSection(ctx: CommandContext): Document {
  const { member } = ctx;
  const { set } = member;
  return {
    topologyVersion: member.topologyVersion(),
    hosts: set.members.map((m) => m.address),
    setName: set.name,
    setVersion: set.setVersion,
    isWritablePrimary: member.isPrimary,
    secondary: !member.isPrimary,
    ...(set.primary ? { primary: set.primary.address } : {}),
    me: member.address,
    ...(member.isPrimary ? { electionId: member.electionId() } : {}),
  };
}

/**
 * getParameter: the server parameters asked for by name (`{ getParameter: 1, ttlMonitorSleepSecs: 1 }`), or all
 * of them with `getParameter: '*'`. Only the few the stand-in has; the feature compatibility version otherwise.
 */
function getParameter(cmd: Document, ctx: CommandContext): Document {
  const parameters: Document = {
    featureCompatibilityVersion: { version: '7.0' },
    ...ctx.member.set.parameters,
  };
  const all = cmd.getParameter === '*';
  const asked = Object.keys(parameters).filter((name) => all || cmd[name] !== undefined);
  if (asked.length === 0) return { featureCompatibilityVersion: parameters.featureCompatibilityVersion, ok: 1 };
  return { ...Object.fromEntries(asked.map((name) => [name, parameters[name]])), ok: 1 };
}

export const handshakeCommands: Record<string, CommandSpec> = {
  hello: { handler: (cmd, ctx) => hello(cmd, ctx, false) },
  isMaster: { handler: (cmd, ctx) => hello(cmd, ctx, true) },
  ismaster: { handler: (cmd, ctx) => hello(cmd, ctx, true) },
  ping: { handler: ok },
  buildInfo: {
    handler: () => ({
      version: SERVER_VERSION,
      gitVersion: 'switchyard-mongo-standin',
      versionArray: [7, 0, 0, 0],
      bits: 64,
      debug: false,
      maxBsonObjectSize: MAX_BSON_OBJECT_SIZE,
      storageEngines: ['standin'],
      ok: 1,
    }),
  },
  endSessions: { handler: ok },
  killSessions: { handler: ok },
  killAllSessions: { handler: ok },
  refreshSessions: { handler: ok },
  getParameter: { handler: getParameter },
  serverStatus: {
    handler: (_cmd, ctx) => ({
      host: ctx.member.address,
      version: SERVER_VERSION,
      process: 'mongod',
      uptime: process.uptime(),
      localTime: new Date(),
      connections: {
        current: ctx.member.counters.connectionsOpen,
        totalCreated: ctx.member.counters.connectionsAccepted,
      },
      repl: replSection(ctx),
      ok: 1,
    }),
  },
  whatsmyuri: { handler: () => ({ you: 'unknown', ok: 1 }) },
};
