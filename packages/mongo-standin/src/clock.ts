import { Timestamp } from 'bson';

/**
 * The cluster clock: hands out strictly increasing BSON Timestamps (seconds, increment), one per oplog
 * entry, like a primary's optime. It survives restarts of the stand-in so tokens never go backwards.
 */
export class ClusterClock {
  private seconds = 0;
  private increment = 0;

  /** The next unique timestamp, at or after wall-clock now. */
  tick(): Timestamp {
    const now = Math.floor(Date.now() / 1000);
    if (now > this.seconds) {
      this.seconds = now;
      this.increment = 1;
    } else {
      this.increment += 1;
    }
    return new Timestamp({ t: this.seconds, i: this.increment });
  }

  /** The latest timestamp issued (the `operationTime` and `$clusterTime` of replies). */
  current(): Timestamp {
    if (this.seconds === 0) return this.tick();
    return new Timestamp({ t: this.seconds, i: this.increment });
  }
}

/** Orders two BSON Timestamps (optimes): negative, zero or positive, like a comparator. */
export function compareTs(a: { t: number; i: number }, b: { t: number; i: number }): number {
  return a.t - b.t || a.i - b.i;
}
