import { Binary, Long, ObjectId, type Document } from 'bson';
import { ClusterClock } from './clock.js';
import { newCounters, type StandInCounters } from './counters.js';
import { CursorRegistry } from './cursors.js';
import { Oplog, type OplogBounds } from './oplog.js';
import { Store } from './store.js';

/** A failCommand rule: fail (or close the connection of) the next matching commands. */
export interface FailPoint {
  commands: ReadonlySet<string>;
  /** Matching commands still to fail; Infinity for "alwaysOn". */
  remaining: number;
  /** Matching commands to let through before failing starts. */
  skip: number;
  code?: number;
  errmsg?: string;
  /** Labels to attach; when undefined, the labels mongod itself would attach. */
  errorLabels?: string[];
  closeConnection: boolean;
  blockTimeMS: number;
  appName?: string;
}

const MAX_RETRY_RECORDS = 10_000;

/**
 * Everything a one-member replica set knows: data, oplog, cursors, clock, election term and fault state.
 * The network side (server.ts) and the commands read and change it.
 */
export class ReplicaSetMember {
  readonly clock = new ClusterClock();
  readonly counters: StandInCounters = newCounters();
  oplog: Oplog;
  store: Store;
  readonly cursors = new CursorRegistry();
  term = 1;
  stepDownUntil = 0;
  writeLatencyMs = 0;
  failPoints: FailPoint[] = [];
  eventDelayMs = 0;
  eventsPaused = false;
  /** Replies of applied retryable writes by `lsid:txnNumber`, so a retry is answered, not re-applied. */
  private readonly retryRecords = new Map<string, Document>();
  address = '';

  constructor(
    readonly setName: string,
    private readonly bounds: OplogBounds,
  ) {
    this.oplog = new Oplog(this.clock, bounds);
    this.store = new Store(this.oplog, () => (this.counters.cappedDeletes += 1));
    this.oplog.append({ op: 'noop', db: 'admin', bytes: 64 });
  }

  get isPrimary(): boolean {
    return Date.now() >= this.stepDownUntil;
  }

  /** Wipes data and history (a restart without its data directory); the clock and counters carry on. */
  wipe(): void {
    this.cursors.killAll();
    this.oplog.loseHistory();
    this.oplog.close();
    this.oplog = new Oplog(this.clock, this.bounds);
    this.oplog.setEventDelay(this.eventDelayMs);
    if (this.eventsPaused) this.oplog.pause();
    this.store = new Store(this.oplog, () => (this.counters.cappedDeletes += 1));
    const start = this.oplog.append({ op: 'noop', db: 'admin', bytes: 64 });
    this.oplog.markLostBefore(start.ts);
    this.retryRecords.clear();
  }

  electionId(): ObjectId {
    return new ObjectId(`7fffffff${this.term.toString(16).padStart(16, '0')}`);
  }

  clusterTimeDocument(): Document {
    return {
      clusterTime: this.clock.current(),
      signature: { hash: new Binary(Buffer.alloc(20), 0), keyId: Long.fromNumber(0) },
    };
  }

  retryRecord(key: string): Document | undefined {
    return this.retryRecords.get(key);
  }

  rememberRetry(key: string, reply: Document): void {
    if (this.retryRecords.size >= MAX_RETRY_RECORDS) {
      const oldest = this.retryRecords.keys().next().value as string;
      this.retryRecords.delete(oldest);
    }
    this.retryRecords.set(key, reply);
  }
}
