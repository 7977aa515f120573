import { WindowMeter } from './window-meter.js';
import type { WindowResult, Workload } from './workload.js';

/**
 * `concurrency` loops, each running `operation` back to back: counts completed operations and their
 * latency per window. A failed operation ends its loop: retrying at full speed would only measure failures.
 */
export class ClosedLoopWorkload implements Workload {
  private readonly meter = new WindowMeter();
  private completed = 0;
  private started = 0;
  private windowCompleted = 0;
  private windowStarted = 0;
  private stopped = false;
  private readonly loops: Promise<void>[] = [];

  /**
   * `operation(index)` gets the number of operations started before it, across every loop. What it
   * resolves with, if anything, runs after its latency is recorded (closing what it opened).
   */
  constructor(concurrency: number, operation: (index: number) => Promise<void | (() => Promise<void>)>) {
    for (let loop = 0; loop < concurrency; loop++) {
      this.loops.push(
        (async () => {
          while (!this.stopped) {
            const index = this.started++;
            const begin = performance.now();
            try {
              const after = await operation(index);
              this.meter.latency.recordMs(performance.now() - begin);
              this.completed += 1;
              if (after) await after();
            } catch (error) {
              this.meter.fail(error instanceof Error ? error.message : String(error));
              return;
            }
          }
        })(),
      );
    }
  }

  beginWindow(): void {
    this.meter.open();
    this.windowCompleted = this.completed;
    this.windowStarted = this.started;
  }

  endWindow(): WindowResult {
    return this.meter.close({
      operations: this.completed - this.windowCompleted,
      sent: this.started - this.windowStarted,
      latency: this.meter.latency.summary(),
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.race([Promise.all(this.loops), new Promise((resolve) => setTimeout(resolve, 10_000))]);
  }
}
