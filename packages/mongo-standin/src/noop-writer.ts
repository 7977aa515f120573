import type { Timestamp } from 'bson';
import { compareTs } from './clock.js';
import type { ReplicaSet } from './replica-set.js';

/** mongod's `periodicNoopIntervalSecs` default: 10 s. */
export const DEFAULT_PERIODIC_NOOP_INTERVAL_MS = 10_000;

/**
 * mongod's periodic no-op writer: every interval, a primary that has written nothing since the last tick
 * writes a `{ msg: 'periodic noop' }` entry, so the optime (operationTime, cluster time, and every change
 * stream's postBatchResumeToken once it is majority-committed) keeps advancing on an idle replica set.
 */
export class NoopWriter {
  private timer: NodeJS.Timeout | undefined;
  private lastKnown: Timestamp | undefined;

  constructor(
    private readonly set: ReplicaSet,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    this.stop();
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    this.timer.unref();
  }

  private tick(): void {
    const primary = this.set.primary;
    if (!primary) {
      this.lastKnown = undefined;
      return;
    }
    if (this.lastKnown !== undefined && compareTs(primary.lastApplied, this.lastKnown) === 0) {
      primary.oplog.append({ op: 'noop', db: 'admin', bytes: 64 });
      this.set.counters.noopWrites += 1;
    }
    this.lastKnown = primary.lastApplied;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.lastKnown = undefined;
  }
}
