import { Long, type Document } from 'bson';
import { MAX_MESSAGE_SIZE_BYTES } from '../wire.js';
import { MAX_BSON_OBJECT_SIZE } from '../store.js';
import type { CommandContext, CommandSpec } from './context.js';

/** MongoDB 7.0's wire version: within the range the 6.x and 7.x drivers accept. */
export const MAX_WIRE_VERSION = 21;
export const SERVER_VERSION = '7.0.0';

/**
 * hello / legacy isMaster. The member reports itself as the primary of a one-member replica set, or as
 * a secondary while stepped down. No `topologyVersion` is sent, so drivers poll rather than stream hellos
 * (streaming needs exhaust cursors, which the stand-in does not implement).
 */
function hello(cmd: Document, ctx: CommandContext, legacy: boolean): Document {
  const { member } = ctx;
  const primary = member.isPrimary;
  const opTime = { ts: member.clock.current(), t: Long.fromNumber(member.term) };
  const now = new Date();
  const reply: Document = {
    topologyVersion: undefined,
    [legacy ? 'ismaster' : 'isWritablePrimary']: primary,
    secondary: !primary,
    ...(cmd.helloOk === true ? { helloOk: true } : {}),
    setName: member.setName,
    setVersion: 1,
    hosts: [member.address],
    ...(primary ? { primary: member.address, electionId: member.electionId() } : {}),
    me: member.address,
    lastWrite: { opTime, lastWriteDate: now, majorityOpTime: opTime, majorityWriteDate: now },
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
  delete reply.topologyVersion;
  return reply;
}

const ok = (): Document => ({ ok: 1 });

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
  getParameter: { handler: () => ({ featureCompatibilityVersion: { version: '7.0' }, ok: 1 }) },
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
      ok: 1,
    }),
  },
  replSetGetStatus: {
    handler: (_cmd, ctx) => ({
      set: ctx.member.setName,
      date: new Date(),
      myState: ctx.member.isPrimary ? 1 : 2,
      term: Long.fromNumber(ctx.member.term),
      members: [
        {
          _id: 0,
          name: ctx.member.address,
          health: 1,
          state: ctx.member.isPrimary ? 1 : 2,
          stateStr: ctx.member.isPrimary ? 'PRIMARY' : 'SECONDARY',
          self: true,
        },
      ],
      ok: 1,
    }),
  },
  whatsmyuri: { handler: () => ({ you: 'unknown', ok: 1 }) },
};
