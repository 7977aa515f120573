import { setTimeout as sleep } from 'node:timers/promises';
import { Long, type Document } from 'bson';
import { CommandError, ErrorCodes } from '../errors.js';
import type { ReplicaSetMember } from '../member.js';
import { isNumeric, toNumber } from '../query/values.js';
import type { CommandContext, CommandSpec } from './context.js';

/** The replication commands drivers and their spec tests use against a replica set. */

function requireAdmin(name: string, ctx: CommandContext): void {
  if (ctx.db !== 'admin') {
    throw new CommandError(ErrorCodes.Unauthorized, `${name} may only be run against the admin database.`);
  }
}

function stateOf(member: ReplicaSetMember): { state: number; stateStr: string } {
  return member.isPrimary ? { state: 1, stateStr: 'PRIMARY' } : { state: 2, stateStr: 'SECONDARY' };
}

function replSetGetStatus(_cmd: Document, ctx: CommandContext): Document {
  requireAdmin('replSetGetStatus', ctx);
  const { member } = ctx;
  const { set } = member;
  const term = Long.fromNumber(set.term);
  return {
    set: set.name,
    date: new Date(),
    myState: stateOf(member).state,
    term,
    majorityVoteCount: set.majority,
    writeMajorityCount: set.majority,
    votingMembersCount: set.members.length,
    writableVotingMembersCount: set.members.length,
    optimes: {
      lastCommittedOpTime: { ts: set.majorityCommitPoint, t: term },
      appliedOpTime: { ts: member.lastApplied, t: term },
      durableOpTime: { ts: member.lastApplied, t: term },
    },
    members: set.members.map((m) => ({
      _id: m.id,
      name: m.address,
      health: 1,
      ...stateOf(m),
      optime: { ts: m.lastApplied, t: term },
      optimeDate: m.lastAppliedWall,
      syncSourceHost: set.syncSourceFor(m)?.address ?? '',
      ...(m === member ? { self: true } : {}),
    })),
    ok: 1,
  };
}

function replSetGetConfig(_cmd: Document, ctx: CommandContext): Document {
  requireAdmin('replSetGetConfig', ctx);
  const { set } = ctx.member;
  return {
    config: {
      _id: set.name,
      version: set.setVersion,
      term: Long.fromNumber(set.term),
      members: set.members.map((m) => ({
        _id: m.id,
        host: m.address,
        arbiterOnly: false,
        buildIndexes: true,
        hidden: false,
        priority: 1,
        tags: {},
        secondaryDelaySecs: Long.fromNumber(0),
        votes: 1,
      })),
      protocolVersion: Long.fromNumber(1),
      writeConcernMajorityJournalDefault: true,
      settings: {
        chainingAllowed: true,
        heartbeatIntervalMillis: 2000,
        heartbeatTimeoutSecs: 10,
        electionTimeoutMillis: 10000,
        catchUpTimeoutMillis: -1,
      },
    },
    ok: 1,
  };
}

/**
 * replSetStepDown (https://www.mongodb.com/docs/manual/reference/command/replSetStepDown/): the primary steps
 * down for `replSetStepDown` seconds (60 when not a number), once an electable secondary is caught up
 * (`secondaryCatchUpPeriodSecs`, 10 s by default, 0 with `force`). A lone member has no such secondary: without
 * `force` it fails with ExceededTimeLimit (262) after the catch-up period.
 */
async function replSetStepDown(cmd: Document, ctx: CommandContext): Promise<Document> {
  requireAdmin('replSetStepDown', ctx);
  const { member } = ctx;
  const force = cmd.force === true;
  let seconds = isNumeric(cmd.replSetStepDown) ? Math.trunc(toNumber(cmd.replSetStepDown)) : 60;
  if (seconds === 0) seconds = 60;
  if (seconds < 0) throw new CommandError(ErrorCodes.BadValue, 'stepdown period must be a positive integer');
  const catchUpSecs =
    cmd.secondaryCatchUpPeriodSecs === undefined ? (force ? 0 : 10) : toNumber(cmd.secondaryCatchUpPeriodSecs);
  if (!(catchUpSecs >= 0)) {
    throw new CommandError(ErrorCodes.BadValue, 'secondaryCatchUpPeriodSecs period must be a positive or absent');
  }
  if (seconds < catchUpSecs) {
    throw new CommandError(ErrorCodes.BadValue, 'stepdown period must be longer than secondaryCatchUpPeriodSecs');
  }
  if (!member.isPrimary) throw new CommandError(ErrorCodes.NotWritablePrimary, "not primary so can't step down");
  if (member.set.members.length === 1 && !force) {
    await sleep(catchUpSecs * 1000, undefined, { signal: ctx.connection.signal }).catch(() => undefined);
    throw new CommandError(
      ErrorCodes.ExceededTimeLimit,
      `No electable secondaries caught up as of ${new Date().toISOString()}. Please use the replSetStepDown command with the argument {force: true} to force node to step down.`,
    );
  }
  member.set.stepDown(seconds * 1000);
  member.counters.stepDowns += 1;
  return { ok: 1 };
}

/** replSetFreeze: a secondary is not a candidate for `replSetFreeze` seconds (0 unfreezes). */
function replSetFreeze(cmd: Document, ctx: CommandContext): Document {
  requireAdmin('replSetFreeze', ctx);
  const { member } = ctx;
  if (member.isPrimary) {
    throw new CommandError(95, 'cannot freeze node when primary or running for election. state: Primary', {
      codeName: 'NotSecondary',
    });
  }
  const seconds = isNumeric(cmd.replSetFreeze) ? toNumber(cmd.replSetFreeze) : 0;
  member.ineligibleUntil = seconds > 0 ? Date.now() + seconds * 1000 : 0;
  return seconds > 0 ? { ok: 1 } : { info: 'unfreezing', ok: 1 };
}

export const replCommands: Record<string, CommandSpec> = {
  replSetGetStatus: { handler: replSetGetStatus },
  replSetGetConfig: { handler: replSetGetConfig },
  replSetStepDown: { handler: replSetStepDown },
  replSetFreeze: { handler: replSetFreeze },
};
