/**
 * An open-loop schedule: message `i` is due at `startMs + i * 1000 / ratePerSecond`, whatever happened to
 * message `i - 1`. Latency is measured from this intended time, not from the moment the sender got round to
 * it, so a stalled server shows up in the percentiles instead of silently slowing the sender down
 * (no coordinated omission).
 */
export class FixedRateSchedule {
  readonly startMs: number;
  readonly ratePerSecond: number;
  readonly intervalMs: number;

  constructor(startMs: number, ratePerSecond: number) {
    if (!(ratePerSecond > 0) || !Number.isFinite(ratePerSecond)) {
      throw new RangeError(`rate must be a positive finite number, got ${ratePerSecond}`);
    }
    this.startMs = startMs;
    this.ratePerSecond = ratePerSecond;
    this.intervalMs = 1000 / ratePerSecond;
  }

  /** When message `index` (0-based) is meant to be sent. */
  intendedTime(index: number): number {
    return this.startMs + index * this.intervalMs;
  }

  /** How many messages are due by `nowMs`: those with an intended time at or before it. */
  dueCount(nowMs: number): number {
    if (nowMs < this.startMs) return 0;
    // A small epsilon keeps float error from postponing a message that is due exactly now.
    return Math.floor((nowMs - this.startMs) / this.intervalMs + 1e-9) + 1;
  }

  /** Milliseconds from `nowMs` until message `index` is due (0 when already due). */
  delayUntil(index: number, nowMs: number): number {
    return Math.max(0, this.intendedTime(index) - nowMs);
  }
}
