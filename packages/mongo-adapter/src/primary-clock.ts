/** Pauses older than this are folded into one total (their exact place no longer matters). */
const HISTORY_MS = 15 * 60_000;
const MAX_PAUSES = 256;

/**
 * Time that counts against a node: wall-clock time during which MongoDB had a primary. While it has none
 * (an election, 10–12 s with mongod's defaults), every node of the cluster is equally unable to write, so
 * a silence then says nothing about anyone: heartbeat timeouts, deafness and the receivers' waits for a
 * sender's missing messages are measured on this clock instead of the wall clock.
 *
 * `now()` never goes backwards; `between(a, b)` is the counted time between two wall-clock instants.
 */
export class PrimaryClock {
  /** Closed pauses, oldest first. */
  private readonly pauses: Array<{ start: number; end: number }> = [];
  /** Total of the pauses dropped from `pauses` (all ended before the oldest one kept). */
  private foldedMs = 0;
  private pausedSince: number | undefined;
  private lastResumedAt: number | undefined;

  get paused(): boolean {
    return this.pausedSince !== undefined;
  }

  /** When the last pause ended (wall clock), if one did. */
  get resumedAt(): number | undefined {
    return this.lastResumedAt;
  }

  pause(at = Date.now()): void {
    this.pausedSince ??= at;
  }

  resume(at = Date.now()): void {
    if (this.pausedSince === undefined) return;
    if (at > this.pausedSince) this.pauses.push({ start: this.pausedSince, end: at });
    this.pausedSince = undefined;
    this.lastResumedAt = at;
    this.fold(at);
  }

  /** The counted time at wall-clock instant `wall` (default: now). */
  now(wall = Date.now()): number {
    return wall - this.pausedUpTo(wall);
  }

  /** Counted time between two wall-clock instants (0 if `to` is not after `from`). */
  between(from: number, to: number): number {
    return Math.max(0, this.now(to) - this.now(from));
  }

  private pausedUpTo(wall: number): number {
    let total = this.foldedMs;
    for (const { start, end } of this.pauses) {
      if (start >= wall) break;
      total += Math.min(end, wall) - start;
    }
    if (this.pausedSince !== undefined && this.pausedSince < wall) total += wall - this.pausedSince;
    return total;
  }

  private fold(now: number): void {
    while (this.pauses.length > 0 && (this.pauses.length > MAX_PAUSES || this.pauses[0]!.end < now - HISTORY_MS)) {
      const oldest = this.pauses.shift()!;
      this.foldedMs += oldest.end - oldest.start;
    }
  }
}
