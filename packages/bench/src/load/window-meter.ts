import { CpuMeter } from '../harness/cpu-meter.js';
import { LatencyRecorder } from '../harness/latency.js';
import type { WindowResult } from './workload.js';

/** What a workload counts itself; the meter adds duration, CPU and errors. */
export type WindowCounts = Pick<WindowResult, 'operations' | 'sent' | 'latency' | 'remoteLatency'>;

/**
 * The bookkeeping every workload shares for its measured windows: latency, the load generator's own CPU,
 * when the window opened, and the errors seen. Only the first error's text is kept: it is what explains a
 * failed run, and the rest would only grow memory during a storm of refusals.
 */
export class WindowMeter {
  readonly latency = new LatencyRecorder();
  private readonly cpu = new CpuMeter();
  private openedAt = 0;
  private errors = 0;
  private firstError: string | undefined;

  /** Starts a window: latency and CPU from now on. Errors are not reset: one anywhere fails the run. */
  open(): void {
    this.latency.reset();
    this.cpu.start();
    this.openedAt = performance.now();
  }

  fail(message: string): void {
    this.errors += 1;
    this.firstError ??= message;
  }

  close(counts: WindowCounts, now = performance.now()): WindowResult {
    return {
      durationMs: now - this.openedAt,
      ...counts,
      loadCpu: this.cpu.read().coreFraction,
      errors: this.errors,
      firstError: this.firstError,
    };
  }
}
