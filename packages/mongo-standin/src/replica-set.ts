import { Timestamp, type Document } from 'bson';
import { ClusterClock, compareTs } from './clock.js';
import { newCounters, type StandInCounters } from './counters.js';
import { requireNonNegativeMs, StandInError } from './errors.js';
import { FailPoints } from './fail-points.js';
import { ReplicaSetMember } from './member.js';
import type { OplogBounds } from './oplog.js';
import { catchUp, flushReplication, Replicator } from './replication.js';
import { rollBack } from './rollback.js';

const MAX_RETRY_RECORDS = 10_000;

/**
 * How long a step-down leaves the set without a primary when other members can take over: mongod's
 * stepping-down primary hands the election to a caught-up secondary at once ("election handoff"), so the
 * new primary is there within a few heartbeats rather than after an election timeout.
 */
export const STEP_DOWN_HANDOFF_MS = 100;

/** How long mongod's replica set has no primary after the primary fails: 10 s election timeout plus up to ~2 s. */
export function defaultElectionMs(): number {
  return 10_000 + Math.floor(Math.random() * 2_000);
}

export interface ElectionPlan {
  /** Time with no primary before the new one is elected. */
  electionMs: number;
  /** Member (index) to elect; by default the most up-to-date eligible member other than the old primary. */
  to?: number;
  /**
   * The old primary is cut off (crashed, partitioned) instead of stepping down cleanly: nobody replicates from it
   * any more, the new primary has only what reached it, and writes the new primary never had are rolled back.
   * Without it, the new primary first catches up on everything the old one wrote (mongod's catch-up after a
   * replSetStepDown), so nothing is lost.
   */
  rollbackUnreplicated?: boolean;
  /** The old primary may not be elected for this long (replSetStepDown's period). */
  ineligibleMs?: number;
}

/**
 * The replica set: its members, who is primary in which term, the majority commit point, elections and
 * rollbacks, and the fault state every member shares. Replication itself is replication.ts.
 */
export class ReplicaSet {
  readonly clock = new ClusterClock();
  readonly counters: StandInCounters = newCounters();
  readonly members: ReplicaSetMember[];
  readonly failPoints = new FailPoints();
  term = 1;
  /** The replica set configuration's version (no reconfig in the stand-in: constant). */
  readonly setVersion = 1;
  writeLatencyMs = 0;
  eventDelayMs = 0;
  eventsPaused = false;
  /** Server parameters getParameter reports (set by the server from its options). */
  readonly parameters: Record<string, number> = {};
  private current: ReplicaSetMember | undefined;
  /** While electing: the member that stepped down, which secondaries still sync from unless it was cut off. */
  private steppedDown: { member: ReplicaSetMember; cutOff: boolean } | undefined;
  private pendingPlan: ElectionPlan | undefined;
  private commitPoint = new Timestamp({ t: 0, i: 0 });
  private readonly replicators: Replicator[];
  private readonly progressListeners = new Set<() => void>();
  private readonly retryRecords = new Map<string, { reply: Document; ts: Timestamp }>();
  private electionTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    readonly name: string,
    size: number,
    bounds: OplogBounds,
  ) {
    if (!Number.isInteger(size) || size < 1 || size > 50) {
      throw new StandInError('STANDIN_INVALID_OPTION', `members must be an integer from 1 to 50, got ${String(size)}`);
    }
    this.members = Array.from({ length: size }, (_, id) => new ReplicaSetMember(this, id, bounds));
    this.replicators = this.members.map((member) => new Replicator(this, member));
    this.current = this.members[0];
    this.initiate();
  }

  /** The first entry of a new set (replSetInitiate's "initiating set"), replicated to every member. */
  private initiate(): void {
    const primary = this.current ?? this.members[0]!;
    primary.oplog.append({ op: 'noop', db: 'admin', bytes: 64 });
    flushReplication(this.replicators);
  }

  get primary(): ReplicaSetMember | undefined {
    return this.current;
  }

  /** Votes needed to elect a primary or commit a write: a strict majority of the members. */
  get majority(): number {
    return Math.floor(this.members.length / 2) + 1;
  }

  /** Newest optime a majority of members has applied: what change streams and `w: 'majority'` wait for. */
  get majorityCommitPoint(): Timestamp {
    return this.commitPoint;
  }

  /** Whether an election is under way (no primary). */
  get electing(): boolean {
    return this.current === undefined;
  }

  /** The member a secondary pulls entries from: the primary, or while electing the one that stepped down. */
  syncSourceFor(member: ReplicaSetMember): ReplicaSetMember | undefined {
    if (this.current) return this.current === member ? undefined : this.current;
    const previous = this.steppedDown;
    if (previous && !previous.cutOff && previous.member !== member) return previous.member;
    return undefined;
  }

  /** Called after every append to a member's oplog. */
  memberApplied(member: ReplicaSetMember): void {
    this.updateCommitPoint();
    for (const replicator of this.replicators) if (replicator.source === member) replicator.pump();
    this.notifyProgress();
  }

  private updateCommitPoint(): void {
    const applied = this.members.map((m) => m.lastApplied).sort((a, b) => compareTs(b, a));
    const majorityApplied = applied[this.majority - 1]!;
    if (compareTs(majorityApplied, this.commitPoint) > 0) this.commitPoint = majorityApplied;
    // A member learns the commit point from the primary but can show only what it has applied itself.
    for (const member of this.members) {
      const own = compareTs(member.lastApplied, this.commitPoint) < 0 ? member.lastApplied : this.commitPoint;
      if (own.t > 0) member.oplog.setCommitPoint(own);
    }
  }

  /** Members (primary included) that have applied the write at `ts`. */
  appliedCount(ts: Timestamp): number {
    return this.members.filter((m) => compareTs(m.lastApplied, ts) >= 0).length;
  }

  /** Calls `listener` whenever replication progresses or the primary changes; returns an unsubscribe function. */
  onProgress(listener: () => void): () => void {
    this.progressListeners.add(listener);
    return () => this.progressListeners.delete(listener);
  }

  private notifyProgress(): void {
    for (const listener of [...this.progressListeners]) listener();
  }

  // --- replication lag --------------------------------------------------------------------------

  /** Sets how long entries take to reach `member` (every secondary when omitted). */
  setReplicationLag(ms: number, member?: number): void {
    requireNonNegativeMs('setReplicationLag(ms)', ms);
    if (member !== undefined) this.memberAt(member, 'setReplicationLag');
    for (const replicator of this.replicators) {
      if (member === undefined || replicator.member.id === member) replicator.setLag(ms);
    }
  }

  replicationLag(member: number): number {
    return this.replicators[member]!.lagMs;
  }

  /** Applies every pending entry on every secondary now, whatever the lag (before history is dropped, say). */
  flush(): void {
    flushReplication(this.replicators);
  }

  // --- elections --------------------------------------------------------------------------------

  /**
   * The primary steps down now (its writes waiting for replication fail with PrimarySteppedDown); after
   * `electionMs` with no primary, another member (or `to`) is elected in a higher term.
   */
  failover(plan: ElectionPlan): void {
    requireNonNegativeMs('failover electionMs', plan.electionMs);
    if (plan.to !== undefined) this.memberAt(plan.to, 'failover({ to })');
    const old = this.current;
    if (old) {
      this.current = undefined;
      this.steppedDown = { member: old, cutOff: plan.rollbackUnreplicated === true };
      for (const member of this.members) member.topologyChanged();
      this.notifyProgress();
    } else if (this.steppedDown && plan.rollbackUnreplicated) {
      this.steppedDown.cutOff = true;
    }
    const leaving = this.steppedDown?.member;
    if (leaving && plan.ineligibleMs !== undefined) {
      leaving.ineligibleUntil = Math.max(leaving.ineligibleUntil, Date.now() + plan.ineligibleMs);
    }
    this.scheduleElection(plan, plan.electionMs);
  }

  /** A clean step-down for `ms` (replSetStepDown): a caught-up member takes over, the old one is ineligible. */
  stepDown(ms: number, electionMs?: number): void {
    requireNonNegativeMs('stepDown(ms)', ms);
    this.failover({
      electionMs: electionMs ?? (this.members.length > 1 ? Math.min(ms, STEP_DOWN_HANDOFF_MS) : 0),
      ineligibleMs: ms,
    });
  }

  /** Ends an election in progress now (faults.reset()): the pending plan, but without waiting. */
  electNow(): void {
    if (!this.current && this.pendingPlan) {
      for (const member of this.members) member.ineligibleUntil = 0;
      this.elect(this.pendingPlan);
    }
  }

  private scheduleElection(plan: ElectionPlan, delayMs: number): void {
    if (this.electionTimer) clearTimeout(this.electionTimer);
    this.pendingPlan = plan;
    this.electionTimer = setTimeout(() => this.elect(plan), delayMs);
    this.electionTimer.unref();
  }

  /** Members that may win this election once eligible: `to`, or every member but the old primary (if others exist). */
  private contenders(plan: ElectionPlan): ReplicaSetMember[] {
    if (plan.to !== undefined) return [this.members[plan.to]!];
    const leaving = this.steppedDown?.member;
    return this.members.filter((m) => this.members.length === 1 || m !== leaving);
  }

  private candidateFor(plan: ElectionPlan, now: number): ReplicaSetMember | undefined {
    const eligible = this.contenders(plan).filter((m) => m.ineligibleUntil <= now);
    // Voters elect the candidate whose oplog is the most up to date (ties: the next member after the old primary).
    const leaving = this.steppedDown?.member;
    const start = leaving ? leaving.id + 1 : 0;
    const order = (m: ReplicaSetMember) => (m.id - start + this.members.length) % this.members.length;
    return eligible.sort((a, b) => compareTs(b.lastApplied, a.lastApplied) || order(a) - order(b))[0];
  }

  private elect(plan: ElectionPlan): void {
    this.electionTimer = undefined;
    if (this.closed || this.current) return;
    const now = Date.now();
    const candidate = this.candidateFor(plan, now);
    if (!candidate) {
      // Nobody may be elected yet (a lone member stepped down for a while, frozen members): try when one may.
      const next = Math.min(...this.contenders(plan).map((m) => m.ineligibleUntil));
      this.scheduleElection(plan, Math.max(1, next - now));
      return;
    }
    const previous = this.steppedDown;
    const cutOff = previous?.cutOff === true;
    // A member wins an election only if its oplog holds every majority-committed write; after a clean step-down
    // the new primary also catches up on the old primary's remaining writes, so none is lost.
    const donor = this.mostUpToDate(cutOff ? previous?.member : undefined);
    if (donor && donor !== candidate) catchUp(candidate, donor, cutOff ? this.commitPoint : undefined);
    const divergence = candidate.lastApplied;
    this.term += 1;
    this.current = candidate;
    this.steppedDown = undefined;
    this.pendingPlan = undefined;
    candidate.ineligibleUntil = 0;
    this.counters.elections += 1;
    if (cutOff) {
      for (const member of this.members) {
        if (member !== candidate && compareTs(member.lastApplied, divergence) > 0) rollBack(member, candidate);
      }
      for (const [key, record] of this.retryRecords) {
        if (compareTs(record.ts, divergence) > 0) this.retryRecords.delete(key);
      }
    }
    for (const member of this.members) member.topologyChanged();
    // mongod's new primary writes a no-op in its new term before anything else.
    candidate.oplog.append({ op: 'noop', db: 'admin', bytes: 64 });
    for (const replicator of this.replicators) replicator.pump();
    this.notifyProgress();
  }

  /** The member with the newest applied write, optionally leaving one out (a cut-off old primary). */
  private mostUpToDate(except?: ReplicaSetMember): ReplicaSetMember | undefined {
    return this.members.filter((m) => m !== except).sort((a, b) => compareTs(b.lastApplied, a.lastApplied))[0];
  }

  /** After a restart of the whole set: the primary of before (or the first member) is elected again at once. */
  restarted(): void {
    for (const member of this.members) member.restarted();
    if (this.current) {
      this.term += 1;
      this.counters.elections += 1;
      for (const member of this.members) member.topologyChanged();
    }
  }

  /** Wipes every member's data and history (a restart without data directories), then re-initiates the set. */
  wipe(): void {
    for (const member of this.members) member.resetData();
    for (const replicator of this.replicators) replicator.reset();
    this.retryRecords.clear();
    this.commitPoint = new Timestamp({ t: 0, i: 0 });
    const primary = this.current ?? this.steppedDown?.member ?? this.members[0]!;
    const start = primary.oplog.append({ op: 'noop', db: 'admin', bytes: 64 });
    flushReplication(this.replicators);
    for (const member of this.members) member.oplog.markLostBefore(start.ts);
  }

  memberAt(index: number, what: string): ReplicaSetMember {
    const member = Number.isInteger(index) ? this.members[index] : undefined;
    if (!member) {
      throw new StandInError(
        'STANDIN_INVALID_OPTION',
        `${what}: member must be an index from 0 to ${this.members.length - 1}, got ${String(index)}`,
      );
    }
    return member;
  }

  // --- retryable writes -------------------------------------------------------------------------

  /**
   * The reply of an applied retryable write, if `member` has it: mongod keeps these records in a replicated
   * collection (config.transactions), so a new primary answers a retry of a write it replicated, and a write
   * rolled back is applied again.
   */
  retryRecord(key: string, member: ReplicaSetMember): Document | undefined {
    const record = this.retryRecords.get(key);
    return record && compareTs(record.ts, member.lastApplied) <= 0 ? record.reply : undefined;
  }

  rememberRetry(key: string, reply: Document, ts: Timestamp): void {
    if (this.retryRecords.size >= MAX_RETRY_RECORDS) {
      const oldest = this.retryRecords.keys().next().value as string;
      this.retryRecords.delete(oldest);
    }
    this.retryRecords.set(key, { reply, ts });
  }

  close(): void {
    this.closed = true;
    if (this.electionTimer) clearTimeout(this.electionTimer);
    for (const replicator of this.replicators) replicator.stop();
    for (const member of this.members) member.close();
    this.notifyProgress();
    this.progressListeners.clear();
  }
}
