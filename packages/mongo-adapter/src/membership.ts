import type { BoundLogger } from './logging.js';

export interface MembershipHooks {
  /** Writes a probe addressed to this node; `onBack(true)` once it came back through the stream, `false` if it cannot. */
  sendProbe(onBack: (cameBack: boolean) => void): void;
  /** This node started or stopped hearing the cluster (its own probes come back, or not). */
  hearingChanged(hearing: boolean): void;
  /** Readiness changed (or `force`: the stream state changed). */
  readiness(ready: boolean): void;
  streamOpen(): boolean;
}

/**
 * Whether this node hears the cluster. Every `heartbeatInterval` the node writes a probe addressed to itself;
 * it hears while its probes come back through its own change stream within `heartbeatTimeout`. A node that
 * stops hearing tells the others to stop counting on it (the adapter sends ADAPTER_CLOSE and holds its
 * heartbeats) and announces itself again when it hears.
 *
 * The same probe is the barrier a session restore waits on: once a probe written after a call came back,
 * the node's feed has read everything committed before the call.
 */
export class Membership {
  private lastProbeSeenAt: number | undefined;
  private probePending = false;
  private probeSentAt = 0;
  private hearing = false;
  private everHeard = false;
  private readyReported = false;
  private readonly timers: NodeJS.Timeout[] = [];
  private closed = false;
  /** Barrier requests of this event-loop turn: they share one probe. */
  private barrierWaiters: Array<(caughtUp: boolean) => void> | undefined;

  constructor(
    private readonly heartbeatInterval: number,
    private readonly heartbeatTimeout: number,
    private readonly hooks: MembershipHooks,
    private readonly log: BoundLogger,
  ) {
    const tick = Math.max(10, Math.min(1000, Math.floor(heartbeatInterval / 2)));
    this.timers.push(setInterval(() => this.probe(), heartbeatInterval));
    this.timers.push(setInterval(() => this.check(), tick));
    for (const timer of this.timers) timer.unref();
  }

  get isHearing(): boolean {
    return this.hearing;
  }

  /** Heard once and not any more: what it publishes is marked `deaf`, and it does not heartbeat. */
  get deaf(): boolean {
    return this.everHeard && !this.hearing;
  }

  get lastHeardAt(): number | undefined {
    return this.lastProbeSeenAt;
  }

  /** The change stream is open and this node's own probe came back within heartbeatTimeout. */
  get ready(): boolean {
    return this.hooks.streamOpen() && this.probeFresh();
  }

  close(): void {
    this.closed = true;
    for (const timer of this.timers) clearInterval(timer);
    for (const waiter of this.barrierWaiters ?? []) waiter(false);
    this.barrierWaiters = undefined;
  }

  /** The stream (re)opened: probe at once rather than at the next interval. */
  streamOpened(): void {
    this.reportReadiness(true);
    if (!this.probePending) this.probe();
  }

  streamChanged(): void {
    this.reportReadiness(true);
  }

  /** History was lost: a pending probe may have been lost with it. */
  historyLost(): void {
    this.probePending = false;
    this.probe();
  }

  /** Any probe of ours came back (the heartbeat probe or a barrier's). */
  probeSeen(now: number): void {
    this.lastProbeSeenAt = now;
    this.check();
  }

  /**
   * Resolves true once this node's feed has read everything committed before the call (a probe written
   * after the call came back); false if it cannot come back (write refused, closing). Calls of one
   * event-loop turn share a probe.
   */
  barrier(): Promise<boolean> {
    return new Promise((resolve) => {
      if (this.closed) {
        resolve(false);
        return;
      }
      if (this.barrierWaiters) {
        this.barrierWaiters.push(resolve);
        return;
      }
      const waiters = [resolve];
      this.barrierWaiters = waiters;
      setImmediate(() => {
        this.barrierWaiters = undefined;
        this.hooks.sendProbe((cameBack) => {
          for (const waiter of waiters) waiter(cameBack);
        });
      });
    });
  }

  private probe(): void {
    if (this.closed || this.probePending) return;
    this.probePending = true;
    this.probeSentAt = Date.now();
    this.hooks.sendProbe((cameBack) => {
      this.probePending = false;
      if (!cameBack) this.log.debug({}, 'heartbeat probe lost');
    });
  }

  private probeFresh(): boolean {
    return this.lastProbeSeenAt !== undefined && Date.now() - this.lastProbeSeenAt <= this.heartbeatTimeout;
  }

  private check(): void {
    const hearing = this.probeFresh();
    if (hearing && !this.hearing) {
      const wasDeaf = this.everHeard;
      this.hearing = true;
      this.everHeard = true;
      if (wasDeaf) {
        this.log.warn({}, 'hearing the cluster again');
        this.hooks.hearingChanged(true);
      }
    } else if (!hearing && this.hearing) {
      this.hearing = false;
      this.log.error({}, 'own probes no longer come back; leaving the cluster until they do');
      this.hooks.hearingChanged(false);
    }
    // A probe lost with its stream (pending for longer than the timeout) is sent again.
    if (this.probePending && Date.now() - this.probeSentAt > this.heartbeatTimeout) this.probePending = false;
    this.reportReadiness(false);
  }

  private reportReadiness(force: boolean): void {
    const ready = this.ready;
    if (!force && ready === this.readyReported) return;
    this.readyReported = ready;
    this.hooks.readiness(ready);
  }
}
