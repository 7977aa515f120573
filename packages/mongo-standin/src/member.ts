import { Binary, Long, ObjectId, Timestamp, type Document } from 'bson';
import type { ClusterClock } from './clock.js';
import type { StandInCounters } from './counters.js';
import { CursorRegistry } from './cursors.js';
import type { FailPoints } from './fail-points.js';
import { Oplog, type OplogBounds, type OplogEntry } from './oplog.js';
import type { ReplicaSet } from './replica-set.js';
import { Store } from './store.js';
import { TtlIndexes } from './ttl.js';

/** `{ processId, counter }`: what hello and state-change errors report, and awaitable hellos wait on. */
export interface TopologyVersion {
  processId: ObjectId;
  counter: Long;
}

/**
 * One member of the replica set: its own data, oplog, cursors and topology version. What the set shares
 * (clock, term, counters, fault state) is read through the set. The network side (listener.ts) and the
 * commands read and change it.
 */
export class ReplicaSetMember {
  oplog: Oplog;
  store: Store;
  readonly cursors = new CursorRegistry();
  readonly ttlIndexes: TtlIndexes = new TtlIndexes(this);
  /** `host:port` as hello's `hosts`, `me` and `primary` name it. */
  address = '';
  /** Newest entry this member has applied (its own writes as primary, or replicated ones). */
  lastApplied = new Timestamp({ t: 0, i: 0 });
  lastAppliedWall = new Date(0);
  /** Not a candidate in elections before this time (replSetStepDown's "ineligible" period). */
  ineligibleUntil = 0;
  /** Incremented when every operation in progress here must be interrupted (rollback kills them all). */
  interruptions = 0;
  private processId = new ObjectId();
  private topologyCounter = 0;
  private topologyWaiters = new Set<() => void>();
  private unsubscribeOplog: () => void;

  constructor(
    readonly set: ReplicaSet,
    /** The member's `_id` in the replica set configuration, also its index in `set.members`. */
    readonly id: number,
    private readonly bounds: OplogBounds,
  ) {
    this.oplog = new Oplog(set.clock, bounds);
    this.store = new Store(this.oplog, () => (this.counters.cappedDeletes += 1));
    this.unsubscribeOplog = this.oplog.onAppend((entry) => this.applied(entry));
  }

  get clock(): ClusterClock {
    return this.set.clock;
  }

  get counters(): StandInCounters {
    return this.set.counters;
  }

  get setName(): string {
    return this.set.name;
  }

  /** Fail points are the set's: a rule applies whichever member a command reaches. */
  get failPoints(): FailPoints {
    return this.set.failPoints;
  }

  get writeLatencyMs(): number {
    return this.set.writeLatencyMs;
  }

  get isPrimary(): boolean {
    return this.set.primary === this;
  }

  get term(): number {
    return this.set.term;
  }

  private applied(entry: OplogEntry): void {
    this.lastApplied = entry.ts;
    this.lastAppliedWall = entry.wall;
    this.ttlIndexes.onEntry(entry);
    this.set.memberApplied(this);
  }

  /** Replaces data and oplog by empty ones (a restart without its data directory, or before an initial sync). */
  resetData(): void {
    this.cursors.killAll();
    this.unsubscribeOplog();
    this.oplog.loseHistory();
    this.oplog.close();
    this.oplog = new Oplog(this.clock, this.bounds);
    this.oplog.setEventDelay(this.set.eventDelayMs);
    if (this.set.eventsPaused) this.oplog.pause();
    this.store = new Store(this.oplog, () => (this.counters.cappedDeletes += 1));
    this.lastApplied = new Timestamp({ t: 0, i: 0 });
    this.lastAppliedWall = new Date(0);
    this.ttlIndexes.reset();
    this.unsubscribeOplog = this.oplog.onAppend((entry) => this.applied(entry));
  }

  /** A new process: a new `processId` in the topology version (what a restart gives mongod). */
  restarted(): void {
    this.processId = new ObjectId();
    this.topologyCounter = 0;
    this.topologyChanged();
  }

  /** mongod's electionId: an ObjectId made of 0x7fffffff and the term. */
  electionId(): ObjectId {
    return new ObjectId(`7fffffff${this.term.toString(16).padStart(16, '0')}`);
  }

  topologyVersion(): TopologyVersion {
    return { processId: this.processId, counter: Long.fromNumber(this.topologyCounter) };
  }

  /** A significant topology change (state change, new primary): awaitable hellos answer now. */
  topologyChanged(): void {
    this.topologyCounter += 1;
    for (const wake of [...this.topologyWaiters]) wake();
  }

  /**
   * Waits until the topology version moves past `counter` (or `processId` differs), `ms` pass, or `signal`
   * aborts: the awaitable hello of the server-monitoring spec.
   */
  awaitTopologyChange(known: { processId: unknown; counter: number }, ms: number, signal: AbortSignal): Promise<void> {
    const changed = () =>
      !(known.processId instanceof ObjectId && known.processId.equals(this.processId)) ||
      known.counter < this.topologyCounter;
    if (changed() || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.topologyWaiters.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.topologyWaiters.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  clusterTimeDocument(): Document {
    return {
      clusterTime: this.clock.current(),
      signature: { hash: new Binary(Buffer.alloc(20), 0), keyId: Long.fromNumber(0) },
    };
  }

  /** What a reply's `operationTime` says: the newest write this member has applied. */
  operationTime(): Timestamp {
    return this.lastApplied.t === 0 ? this.clock.current() : this.lastApplied;
  }

  /** The recorded reply of a retryable write this member has applied (a retry is answered, not re-applied). */
  retryRecord(key: string): Document | undefined {
    return this.set.retryRecord(key, this);
  }

  rememberRetry(key: string, reply: Document): void {
    this.set.rememberRetry(key, reply, this.lastApplied);
  }

  close(): void {
    this.cursors.killAll();
    this.unsubscribeOplog();
    this.oplog.close();
    for (const wake of [...this.topologyWaiters]) wake();
  }
}
