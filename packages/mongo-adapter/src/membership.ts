import type { BoundLogger } from './logging.js';
import { PrimaryClock } from './primary-clock.js';
import type { MongoView } from './topology.js';

/**
 * Why a node is, or is not, fit to take traffic (`health().status`):
 * - `starting`: its change stream has not yet brought back its first probe;
 * - `ready`: MongoDB has a primary and the node's own probes come back through its stream;
 * - `waiting-for-primary`: MongoDB has no primary right now (an election), or the node lost every member
 *   for less than `heartbeatTimeout`. Every node of the cluster sees the same: local delivery goes on,
 *   what goes to other nodes waits in the outbox and flows in order once a primary is elected. Ready;
 * - `no-primary`: no primary for longer than `noPrimaryGraceMs`: not an election any more. Not ready;
 * - `unreachable`: the node has reached no member of MongoDB for `heartbeatTimeout`. Not ready;
 * - `deaf`: MongoDB has a primary but the node's own probes have not come back for `heartbeatTimeout`
 *   (counted while a primary is known): this node is broken while the others may hear. Not ready;
 * - `closed`.
 */
export const NODE_STATUSES = [
  'starting',
  'ready',
  'waiting-for-primary',
  'no-primary',
  'unreachable',
  'deaf',
  'closed',
] as const;
export type NodeStatus = (typeof NODE_STATUSES)[number];

/**
 * A late probe behind a stream that keeps delivering (what piled up cluster-wide during an election, read
 * back at once) is waited for this many heartbeat timeouts before the node calls itself deaf.
 */
const CATCH_UP_TIMEOUTS = 3;

/** A deaf node keeps probing; what it remembers of its unanswered probes is bounded. */
const MAX_PROBES_IN_FLIGHT = 1000;

const READY_STATUSES: ReadonlySet<NodeStatus> = new Set(['ready', 'waiting-for-primary']);

export function isReadyStatus(status: NodeStatus): boolean {
  return READY_STATUSES.has(status);
}

export interface MembershipSettings {
  heartbeatInterval: number;
  heartbeatTimeout: number;
  noPrimaryGraceMs: number;
}

export interface MembershipHooks {
  /**
   * Writes a probe addressed to this node: `onSent` each time it is handed to MongoDB (an insertMany; again
   * on a retry), `onBack(true)` once it came back through the stream, `onBack(false)` if it cannot.
   */
  sendProbe(onSent: () => void, onBack: (cameBack: boolean) => void): void;
  /** This node started or stopped hearing the cluster (its own probes come back, or not). */
  hearingChanged(hearing: boolean): void;
  /** The status changed (or `force`: the stream state changed). */
  statusChanged(status: NodeStatus): void;
  /** What the driver knows of MongoDB right now, and since when (ms since the epoch). */
  mongo(): { view: MongoView; since: number };
  /** When the feed last delivered an event here (wall clock), if ever. */
  lastEventAt(): number | undefined;
}

interface ProbeInFlight {
  createdAt: number;
  /** First time it was handed to MongoDB (undefined while it waits in the outbox). */
  sentAt: number | undefined;
}

/**
 * Whether this node hears the cluster, and whether another node's silence means it is gone. Every
 * `heartbeatInterval` the node writes a probe addressed to itself; it is deaf when a probe handed to
 * MongoDB has not come back through its own change stream within `heartbeatTimeout` (and no later one
 * did) while the stream delivers nothing else either, or within CATCH_UP_TIMEOUTS × `heartbeatTimeout`
 * while it does (it is reading what the whole cluster wrote at once after an election). A probe still
 * waiting in the outbox is not late yet: only MongoDB's part of the round trip counts. A node that stops
 * hearing tells the others to stop counting on it (the adapter sends ADAPTER_CLOSE and holds its
 * heartbeats) and announces itself again when it hears.
 *
 * Time is measured on the `PrimaryClock`: time without a primary does not count, so an election makes no
 * node deaf and gets no node evicted. And a node evicts another only on evidence that it hears itself: one
 * of its own probes, written after the other's deadline, came back (a node that hears nothing cannot tell a
 * dead peer from its own deafness).
 *
 * The same probe is the barrier a session restore waits on: once a probe written after a call came back,
 * the node's feed has read everything committed before the call.
 */
export class Membership {
  readonly clock = new PrimaryClock();
  private lastProbeSeenAt: number | undefined;
  /** When the newest probe that came back was written (everything committed before it has been read). */
  private lastProbeBackSentAt: number | undefined;
  /** Probes written and not back yet, oldest first. */
  private inFlight: ProbeInFlight[] = [];
  private probePending = false;
  private probeCreatedAt = 0;
  private hearing = false;
  private everHeard = false;
  private deafSpellsCount = 0;
  private reported: NodeStatus | undefined;
  private readonly timers: NodeJS.Timeout[] = [];
  private closed = false;
  /** Barrier requests of this event-loop turn: they share one probe. */
  private barrierWaiters: Array<(caughtUp: boolean) => void> | undefined;

  constructor(
    private readonly settings: MembershipSettings,
    private readonly hooks: MembershipHooks,
    private readonly log: BoundLogger,
  ) {
    const { heartbeatInterval } = settings;
    const tick = Math.max(10, Math.min(1000, Math.floor(heartbeatInterval / 2)));
    this.timers.push(setInterval(() => this.probe(), heartbeatInterval));
    this.timers.push(setInterval(() => this.check(), tick));
    for (const timer of this.timers) timer.unref();
    if (hooks.mongo().view !== 'primary') this.clock.pause();
  }

  get isHearing(): boolean {
    return this.hearing;
  }

  /** Heard once and not any more: what it publishes is marked `deaf`, and it does not heartbeat. */
  get deaf(): boolean {
    return this.everHeard && !this.hearing;
  }

  /** Times this node declared itself deaf. */
  get deafSpells(): number {
    return this.deafSpellsCount;
  }

  get lastHeardAt(): number | undefined {
    return this.lastProbeSeenAt;
  }

  get status(): NodeStatus {
    if (this.closed) return 'closed';
    if (!this.everHeard) return 'starting';
    if (!this.hearing) return 'deaf';
    const { view, since } = this.hooks.mongo();
    if (view === 'primary') return 'ready';
    const without = Date.now() - since;
    if (view === 'no-primary') return without <= this.settings.noPrimaryGraceMs ? 'waiting-for-primary' : 'no-primary';
    return without <= this.settings.heartbeatTimeout ? 'waiting-for-primary' : 'unreachable';
  }

  /** Fit to take traffic: `ready`, or waiting for an election like every other node. */
  get ready(): boolean {
    return isReadyStatus(this.status);
  }

  close(): void {
    this.closed = true;
    this.inFlight = [];
    for (const timer of this.timers) clearInterval(timer);
    for (const waiter of this.barrierWaiters ?? []) waiter(false);
    this.barrierWaiters = undefined;
  }

  /** The driver's view of MongoDB changed: the clock stops while there is no primary. */
  mongoChanged(view: MongoView): void {
    if (view === 'primary') {
      this.clock.resume();
      // A probe is due: the outbox writes again, and what it held (probe included) comes back soon.
      if (!this.probePending) this.probe();
    } else {
      this.clock.pause();
    }
    this.check();
  }

  /** The stream (re)opened: probe at once rather than at the next interval. */
  streamOpened(): void {
    this.report(true);
    if (!this.probePending) this.probe();
  }

  streamChanged(): void {
    this.report(true);
  }

  /** History was lost: a pending probe may have been lost with it. */
  historyLost(): void {
    this.probePending = false;
    this.probe();
  }

  /**
   * Whether a node last heard from at `lastSeen` (wall clock) has been silent too long: `heartbeatTimeout`
   * of counted time between then and the writing of a probe of ours that came back since. After an
   * election every node gets a whole `heartbeatTimeout` from the moment this node saw the new primary: the
   * others' drivers may see it a little later, and what they held is written only then.
   */
  silentTooLong(lastSeen: number): boolean {
    if (this.clock.paused || this.lastProbeBackSentAt === undefined) return false;
    const from = Math.max(lastSeen, this.clock.resumedAt ?? lastSeen);
    return this.clock.between(from, this.lastProbeBackSentAt) > this.settings.heartbeatTimeout;
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
        this.send((cameBack) => {
          for (const waiter of waiters) waiter(cameBack);
        });
      });
    });
  }

  private probe(): void {
    if (this.closed || this.probePending) return;
    this.probePending = true;
    this.probeCreatedAt = Date.now();
    this.send((cameBack) => {
      this.probePending = false;
      if (!cameBack) this.log.debug({}, 'heartbeat probe lost');
    });
  }

  /** Writes a probe; when it comes back, it proves this node heard everything committed before it was written. */
  private send(onBack: (cameBack: boolean) => void): void {
    const probe: ProbeInFlight = { createdAt: Date.now(), sentAt: undefined };
    this.inFlight.push(probe);
    if (this.inFlight.length > MAX_PROBES_IN_FLIGHT) this.inFlight.shift();
    this.hooks.sendProbe(
      () => {
        probe.sentAt ??= Date.now();
      },
      (cameBack) => {
        if (!this.closed) this.probeSettled(probe, cameBack);
        onBack(cameBack);
      },
    );
  }

  private probeSettled(probe: ProbeInFlight, cameBack: boolean): void {
    const at = this.inFlight.indexOf(probe);
    if (!cameBack) {
      if (at >= 0) this.inFlight.splice(at, 1);
      return;
    }
    // Probes written before it that are still out are moot: the stream works up to this one.
    if (at >= 0) this.inFlight.splice(0, at + 1);
    this.lastProbeSeenAt = Date.now();
    const writtenBy = probe.sentAt ?? probe.createdAt;
    if (this.lastProbeBackSentAt === undefined || writtenBy > this.lastProbeBackSentAt) {
      this.lastProbeBackSentAt = writtenBy;
    }
    this.check();
  }

  /**
   * Heard once, and no probe handed to MongoDB has been out for longer than heartbeatTimeout since; or a
   * late one is behind a stream that is still delivering (catching up), for at most CATCH_UP_TIMEOUTS.
   */
  private probesOnTime(): boolean {
    if (this.lastProbeSeenAt === undefined) return false;
    const now = Date.now();
    const { heartbeatTimeout } = this.settings;
    let out = 0;
    for (const probe of this.inFlight) {
      if (probe.sentAt !== undefined) out = Math.max(out, this.clock.between(probe.sentAt, now));
    }
    if (out <= heartbeatTimeout) return true;
    const lastEvent = this.hooks.lastEventAt();
    const delivering = lastEvent !== undefined && this.clock.between(lastEvent, now) <= heartbeatTimeout;
    return delivering && out <= CATCH_UP_TIMEOUTS * heartbeatTimeout;
  }

  private check(): void {
    if (this.closed) return;
    const hearing = this.probesOnTime();
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
      this.deafSpellsCount++;
      this.log.error(
        { mongo: this.hooks.mongo().view },
        'own probes no longer come back while MongoDB has a primary; leaving the cluster until they do',
      );
      this.hooks.hearingChanged(false);
    }
    // A probe lost with its stream (pending for longer than the timeout) is sent again.
    if (this.probePending && this.clock.between(this.probeCreatedAt, Date.now()) > this.settings.heartbeatTimeout) {
      this.probePending = false;
    }
    this.report(false);
  }

  private report(force: boolean): void {
    const status = this.status;
    if (!force && status === this.reported) return;
    this.reported = status;
    this.hooks.statusChanged(status);
  }
}
