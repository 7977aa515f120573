import type { Document } from 'bson';
import { CommandError, ErrorCodes, requireNonNegativeMs, StandInError } from './errors.js';
import { ruleForCommands, type FailCommandRule } from './fail-points.js';
import { defaultElectionMs, type ReplicaSet } from './replica-set.js';
import { isPlainObject, toNumber } from './query/values.js';

/** Options of `faults.failCommands()`, modelled on mongod's `failCommand` fail point. */
export interface FailCommandsOptions {
  /** Command names to fail, e.g. `['getMore']`, `['insert', 'update']`. */
  commands: string[];
  /** How many matching commands fail (default 1); `Infinity` for always, until `clearFailCommands()`. */
  times?: number;
  /** Matching commands to let through first (default 0). */
  skip?: number;
  /** MongoDB error code to return; required unless `closeConnection` is set. */
  code?: number;
  errmsg?: string;
  /**
   * Labels to attach. When omitted, the stand-in attaches what mongod would: `RetryableWriteError` for
   * retryable writes with a retryable code, `ResumableChangeStreamError` for change-stream commands with a
   * resumable code. Pass `[]` for no labels.
   */
  errorLabels?: string[];
  /** Close the connection instead of replying (a network error, from the driver's point of view). */
  closeConnection?: boolean;
  /** Hold the command this long before failing (or, without `code`, before running it normally). */
  blockTimeMS?: number;
  /** Only commands from connections whose handshake carried this appName. */
  appName?: string;
  /**
   * The write runs, then its reply carries this `writeConcernError` instead of waiting for the write concern
   * (labelled `RetryableWriteError` for a retryable write with a retryable code, as mongod does).
   */
  writeConcernError?: { code: number; codeName?: string; errmsg: string; errInfo?: Document };
}

/** Options of `faults.failover()`. */
export interface FailoverOptions {
  /**
   * Time with no primary (default: 10–12 s at random, mongod's election timeout after a primary fails; tests
   * use less).
   */
  electionMs?: number;
  /** Member (index) that wins the election; default: the most up-to-date member other than the old primary. */
  to?: number;
  /**
   * The old primary fails instead of stepping down cleanly: writes it had not replicated to the new primary
   * are rolled back (on every member that has them), as after a crash or a network partition. Default false:
   * the new primary first catches up on the old one's writes, so nothing is lost.
   */
  rollbackUnreplicated?: boolean;
}

/**
 * Fault injection. Every fault is reflected in `mongo.counters` when it takes effect, so a test can assert
 * that the fault really happened rather than that the code under test merely survived.
 */
export class Faults {
  constructor(
    private readonly set: ReplicaSet,
    private readonly network: { dropConnections(member?: number): number },
  ) {}

  /** Resets every open client connection now (a network blip), of every member or of one. Returns how many. */
  dropConnections(member?: number): number {
    if (member !== undefined) this.set.memberAt(member, 'dropConnections');
    return this.network.dropConnections(member);
  }

  /**
   * The primary steps down for `ms`, as replSetStepDown does (mongod 4.2+): hello reports it a secondary;
   * writes to it fail with NotWritablePrimary (10107, labelled RetryableWriteError when retryable), writes
   * waiting for their write concern get a PrimarySteppedDown (189) writeConcernError; reads without
   * secondaryOk fail with NotPrimaryNoSecondaryOk (13435); open cursors and change streams keep working
   * (getMore is served). It may not be elected again for `ms`: alone, it is primary again after `ms` (new
   * term and electionId); with other members, a caught-up secondary takes over almost at once.
   */
  stepDown(ms: number): void {
    this.set.stepDown(ms);
    this.set.counters.stepDowns += 1;
  }

  /**
   * An election: the primary steps down now, no member is primary for `electionMs`, then another member (or
   * `to`) becomes primary in a higher term, with a new electionId. With `rollbackUnreplicated`, what the old
   * primary had not replicated to the new one is rolled back.
   */
  failover(options: FailoverOptions = {}): void {
    this.set.failover({
      electionMs: options.electionMs ?? defaultElectionMs(),
      to: options.to,
      rollbackUnreplicated: options.rollbackUnreplicated === true,
    });
    this.set.counters.failovers += 1;
  }

  /** True while no member is primary (between a step-down or failover and the next election). */
  get steppedDown(): boolean {
    return this.set.electing;
  }

  /**
   * Entries reach secondaries `ms` after the primary applied them (one member, or every member when omitted):
   * `w: 'majority'` writes wait for it, change streams show a write only once a majority has it.
   */
  setReplicationLag(ms: number, member?: number): void {
    this.set.setReplicationLag(ms, member);
  }

  /** Fails the next matching commands (see FailCommandsOptions). Rules stack; the oldest matching one applies. */
  failCommands(options: FailCommandsOptions): void {
    this.set.failPoints.addRule(toFailPoint(options));
  }

  clearFailCommands(): void {
    this.set.failPoints.clearRules();
  }

  /**
   * Drops every member's whole oplog: resuming from any token older than the newest write fails with
   * ChangeStreamHistoryLost (286). Secondaries first apply what they had pending.
   */
  loseHistory(): void {
    this.set.flush();
    for (const member of this.set.members) member.oplog.loseHistory();
    this.set.counters.historyLosses += 1;
  }

  /** Holds every write's reply back by `ms` after applying it (a slow majority commit). 0 turns it off. */
  setWriteLatency(ms: number): void {
    this.set.writeLatencyMs = requireNonNegativeMs('setWriteLatency(ms)', ms);
  }

  /** Makes each new write visible to change streams only `ms` after it is applied. 0 turns it off. */
  setEventDelay(ms: number): void {
    this.set.eventDelayMs = requireNonNegativeMs('setEventDelay(ms)', ms);
    for (const member of this.set.members) member.oplog.setEventDelay(ms);
  }

  /** Stops change-event delivery while writes keep being accepted (a lagging node); events queue up. */
  pauseChangeEvents(): void {
    if (this.set.eventsPaused) return;
    this.set.eventsPaused = true;
    for (const member of this.set.members) member.oplog.pause();
    this.set.counters.changeEventPauses += 1;
  }

  /** Delivers everything queued since pauseChangeEvents(), in order. */
  resumeChangeEvents(): void {
    this.set.eventsPaused = false;
    for (const member of this.set.members) member.oplog.resume();
  }

  /** Clears every fault: fail points, an election in progress (a primary is elected now), lag, latency, delay, pause. */
  reset(): void {
    this.clearFailCommands();
    this.set.electNow();
    this.set.setReplicationLag(0);
    this.setWriteLatency(0);
    this.setEventDelay(0);
    this.resumeChangeEvents();
  }
}

function toFailPoint(options: FailCommandsOptions): FailCommandRule {
  if (
    !options ||
    !Array.isArray(options.commands) ||
    options.commands.length === 0 ||
    !options.commands.every((c) => typeof c === 'string')
  ) {
    throw new StandInError(
      'STANDIN_INVALID_OPTION',
      'failCommands({ commands }) needs a non-empty array of command names',
    );
  }
  const times = options.times ?? 1;
  if (!(times === Number.POSITIVE_INFINITY || (Number.isInteger(times) && times > 0))) {
    throw new StandInError(
      'STANDIN_INVALID_OPTION',
      `failCommands times must be a positive integer or Infinity, got ${String(times)}`,
    );
  }
  if (
    options.code === undefined &&
    !options.closeConnection &&
    options.blockTimeMS === undefined &&
    options.writeConcernError === undefined
  ) {
    throw new StandInError(
      'STANDIN_INVALID_OPTION',
      'failCommands needs a code, closeConnection: true, blockTimeMS or writeConcernError',
    );
  }
  if (options.code !== undefined && !Number.isInteger(options.code)) {
    throw new StandInError(
      'STANDIN_INVALID_OPTION',
      `failCommands code must be an integer, got ${String(options.code)}`,
    );
  }
  return ruleForCommands(
    options.commands,
    { remaining: times, skip: options.skip ?? 0, probability: 1 },
    {
      code: options.code,
      errmsg: options.errmsg,
      errorLabels: options.errorLabels,
      closeConnection: options.closeConnection === true,
      blockTimeMS: options.blockTimeMS === undefined ? 0 : requireNonNegativeMs('blockTimeMS', options.blockTimeMS),
      appName: options.appName,
      writeConcernError: options.writeConcernError && { ...options.writeConcernError },
    },
  );
}
