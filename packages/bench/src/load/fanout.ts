import { FixedRateSchedule } from '../harness/fixed-rate.js';
import { LatencyRecorder } from '../harness/latency.js';
import { waitForDrain } from './drain.js';
import type { FanoutGroup } from './fanout-group.js';
import { sequenceIn } from './sequence-marker.js';
import { WindowMeter } from './window-meter.js';
import type { WindowResult, Workload } from './workload.js';

export interface FanoutParams {
  /** Text size of each message in bytes. */
  bytes: number;
  /** `saturate`: keep `window` messages in flight; `fixed`: send at `rate` messages/s, open loop. */
  mode: 'saturate' | 'fixed';
  window?: number;
  rate?: number;
  /** Members 1..stalled stop reading at the start: they are left out of deliveries and latency. */
  stalled?: number;
}

const STALL_MS = 15_000;
/** Sequence numbers never repeat within a process, so a late frame of an earlier workload is recognised and ignored. */
let nextSequence = 0;

/**
 * Fan-out to one room. A message is "in flight" until the tracker (the member served last) has it; at
 * saturation the sender keeps `window` in flight, so the server never waits for the sender. At a fixed
 * rate every delivery's latency is measured from the message's intended send time.
 */
export class FanoutWorkload implements Workload {
  private readonly group: FanoutGroup;
  private readonly params: FanoutParams;
  private readonly intended: number[] = [];
  private readonly meter = new WindowMeter();
  /** Deliveries to members on another node than the sender's (multi-node runs only). */
  private readonly remoteRecorder = new LatencyRecorder();
  private readonly firstSequence = nextSequence;
  private sent = 0;
  private trackerReceived = 0;
  private lastProgress = performance.now();
  private deliveries = 0;
  private windowDeliveries = 0;
  private windowSent = 0;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private schedule: FixedRateSchedule | undefined;

  constructor(group: FanoutGroup, params: FanoutParams) {
    this.group = group;
    this.params = params;
    const tracker = group.size - 1;
    const measureLatency = params.mode === 'fixed';
    const stalled = Math.min(params.stalled ?? 0, group.size - 2);
    for (let index = 1; index <= stalled; index++) {
      group.onFrame(index, () => {});
      group.pause(index);
    }
    for (let index = 0; index < group.size; index++) {
      if (index >= 1 && index <= stalled) continue;
      const isTracker = index === tracker;
      const recorder = group.nodeOf(index) === 0 ? this.meter.latency : this.remoteRecorder;
      group.onFrame(index, (frame) => {
        const index = sequenceIn(frame) - this.firstSequence;
        if (index < 0 || index >= this.sent) return;
        this.deliveries += 1;
        if (measureLatency) recorder.recordMs(performance.now() - this.intended[index]!);
        if (isTracker) this.onTracker();
      });
    }
    group.onSendError((message) => this.fail(`the server refused a message: ${message}`));
    if (params.mode === 'saturate') {
      for (let index = 0; index < (params.window ?? 8); index++) this.sendNext(performance.now());
    } else {
      this.schedule = new FixedRateSchedule(performance.now(), params.rate ?? 100);
      this.tick();
    }
  }

  private fail(message: string): void {
    this.meter.fail(message);
  }

  private sendNext(intendedAt: number): void {
    this.intended[this.sent] = intendedAt;
    this.sent += 1;
    nextSequence += 1;
    this.windowSent += 1;
    this.group.send(this.firstSequence + this.sent - 1, this.params.bytes);
  }

  private onTracker(): void {
    this.trackerReceived += 1;
    this.lastProgress = performance.now();
    if (this.params.mode === 'saturate' && !this.stopped) this.sendNext(this.lastProgress);
  }

  private tick = (): void => {
    if (this.stopped || !this.schedule) return;
    const due = this.schedule.dueCount(performance.now());
    while (this.sent < due) this.sendNext(this.schedule.intendedTime(this.sent));
    this.timer = setTimeout(this.tick, this.schedule.delayUntil(this.sent, performance.now()));
  };

  beginWindow(): void {
    this.meter.open();
    this.remoteRecorder.reset();
    this.windowDeliveries = this.deliveries;
    this.windowSent = 0;
  }

  endWindow(): WindowResult {
    const now = performance.now();
    if (this.sent > this.trackerReceived && now - this.lastProgress > STALL_MS) {
      this.fail(`stalled: no delivery to the tracker for ${Math.round(now - this.lastProgress)} ms`);
    }
    return this.meter.close(
      {
        operations: this.deliveries - this.windowDeliveries,
        sent: this.windowSent,
        // Saturation is closed loop: its latency is service time, not a figure to report.
        latency: this.params.mode === 'fixed' ? this.meter.latency.summary() : undefined,
        remoteLatency:
          this.params.mode === 'fixed' && this.remoteRecorder.summary().count > 0
            ? this.remoteRecorder.summary()
            : undefined,
      },
      now,
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await waitForDrain(() => this.trackerReceived >= this.sent);
  }
}
