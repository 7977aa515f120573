import { randomBytes } from 'node:crypto';
import type { Collection, Document } from 'mongodb';
import { MessageType } from 'socket.io-adapter';
import type { FeedEvent, FeedState, ForeignEvent, GapInfo } from './change-feed.js';
import { DispatchQueue } from './dispatch.js';
import { messageDocument, TO_ALL, type MessageDocument } from './document.js';
import type { AdapterEvents } from './events.js';
import { bindLogger, errorMessage, type BoundLogger } from './logging.js';
import { Membership, type NodeStatus } from './membership.js';
import { clientOf } from './mongodb-shim.js';
import type { ResolvedOptions } from './options.js';
import { Positions } from './positions.js';
import { PendingWrites } from './recovery.js';
import { Sequencer } from './sequencing.js';
import { TopologyWatch, type MongoView } from './topology.js';
import { Transport } from './transport.js';

/** What the bus needs from a namespace adapter. */
export interface BusMember {
  readonly nspName: string;
  /** A message from another node (or an emitter) for this namespace, in delivery order. Returns the socket writes it took. */
  receive(event: FeedEvent): number;
  /** A message from a node still running @socket.io/mongo-adapter. */
  receiveForeign(event: ForeignEvent): number;
  /** This node started or stopped hearing the cluster (its own probes come back, or not). */
  hearingChanged(hearing: boolean): void;
  /** Stops counting on the other nodes whose last message (wall-clock ms) is silent too long by this rule. */
  evictSilent(silentTooLong: (lastSeen: number) => boolean): void;
}

export interface PublishRequest {
  uid: string;
  nsp: string;
  type: number;
  data?: unknown;
  /** Responses: the uid of the requester. Default: every node. */
  to?: string;
  recoverable?: boolean;
}

export interface BusHealth {
  /**
   * Fit to take traffic: `status` is `ready` (this node's own probes come back through its stream), or
   * `waiting-for-primary` (MongoDB is electing a primary, for every node alike).
   */
  ready: boolean;
  /** Why it is ready or not: see `NodeStatus`. */
  status: NodeStatus;
  /** What this node's driver knows of MongoDB: a primary, members but no primary (an election), nothing. */
  mongo: MongoView;
  /** Since when `mongo` has had its current value. */
  mongoSince: Date;
  changeStream: FeedState;
  /** This node considers itself a member of the cluster (it hears its own probes). */
  hearing: boolean;
  lastOwnHeartbeatSeenAt: Date | null;
  lastEventAt: Date | null;
  node: string;
  outbox: { docs: number; bytes: number };
  counters: BusCounters;
  gaps: GapInfo[];
}

export interface BusCounters {
  published: number;
  batches: number;
  received: number;
  duplicates: number;
  resumes: number;
  gaps: number;
  rejected: number;
  overflows: number;
  /** Times this node declared itself deaf (its own probes stopped coming back while MongoDB had a primary). */
  deafSpells: number;
}

const MAX_REMEMBERED_GAPS = 64;
const MAX_QUEUED_EVENTS = 10_000;
const PROBE_TYPE = 0;

/**
 * The process-level half of the adapter, shared by every namespace of one socket.io server. It wires three
 * parts and routes between them: the transport (outbox and change feed), sequencing (numbers, reordering,
 * duplicates, offsets: `Sequencer`, `Positions`) and membership (probes, hearing, readiness). Each event
 * read is sequenced, queued in delivery order (`DispatchQueue`) and applied: to the namespace adapter it
 * is for, or to membership for our own probes (and to their echo waiters).
 */
export class Bus {
  readonly uid: string;
  readonly sessions: Collection<Document>;
  readonly positions: Positions;
  private readonly transport: Transport;
  private readonly membership: Membership;
  private readonly topology: TopologyWatch;
  private readonly sequencer: Sequencer<FeedEvent>;
  private readonly queue: DispatchQueue;
  private readonly members = new Map<string, BusMember>();
  /** Probes of ours, to tell membership when each is handed to MongoDB. */
  private readonly probesSent = new WeakMap<MessageDocument, () => void>();
  /** Highest sequence number applied here, per origin and channel (what a restore's replay may include). */
  private readonly appliedUpTo = new Map<string, number>();
  private lastEventAt: number | undefined;
  /** Replayable broadcasts the sequencer holds: while any is held, delivery is not a stream prefix. */
  private heldReplayable = 0;
  private readonly gaps: GapInfo[] = [];
  private readonly timers: NodeJS.Timeout[] = [];
  private closing: Promise<void> | undefined;
  /** Session writes in flight: close waits for them, so a draining node's sessions are stored. */
  private readonly sessionWrites = new PendingWrites();
  readonly log: BoundLogger;
  private readonly feedLog: BoundLogger;
  private readonly membershipLog: BoundLogger;
  private readonly counters: Omit<BusCounters, 'deafSpells'> = {
    published: 0,
    batches: 0,
    received: 0,
    duplicates: 0,
    resumes: 0,
    gaps: 0,
    rejected: 0,
    overflows: 0,
  };

  constructor(
    readonly collection: Collection<Document>,
    readonly options: ResolvedOptions,
    readonly events: AdapterEvents,
  ) {
    this.uid = options.uid ?? randomBytes(8).toString('hex');
    const node = this.uid;
    const logFor = (part: string) => bindLogger(options.logger, { uid: node, component: `mongo-adapter:${part}` });
    this.log = logFor('bus');
    this.feedLog = logFor('feed');
    const outboxLog = logFor('outbox');
    this.sessions = options.sessions ?? collection;
    void this.inspectSessions();
    if (options.ignoredOptions.length > 0) {
      this.log.warn(
        { options: options.ignoredOptions },
        'these options no longer have any effect: local delivery never waits for MongoDB (see the README)',
      );
    }
    this.positions = new Positions(node);
    this.queue = new DispatchQueue(options.maxDeliveriesPerTurn, MAX_QUEUED_EVENTS, (error) =>
      this.log.error({ err: errorMessage(error) }, 'delivery failed'),
    );
    const membershipLog = logFor('membership');
    this.topology = new TopologyWatch(clientOf(collection), (view, previous) => this.mongoChanged(view, previous));
    this.membership = new Membership(
      {
        heartbeatInterval: options.heartbeatInterval,
        heartbeatTimeout: options.heartbeatTimeout,
        noPrimaryGraceMs: options.noPrimaryGraceMs,
      },
      {
        sendProbe: (onSent, onBack) => this.sendProbe(onSent, onBack),
        hearingChanged: (hearing) => {
          for (const member of this.members.values()) this.safely(() => member.hearingChanged(hearing));
        },
        statusChanged: (status) =>
          events.emit('state', {
            node,
            changeStream: this.transport.feedState,
            ready: this.membership.ready,
            status,
            mongo: this.topology.view,
          }),
        mongo: () => ({ view: this.topology.view, since: this.topology.since }),
        lastEventAt: () => this.lastEventAt,
      },
      membershipLog,
    );
    this.membershipLog = membershipLog;
    const sequencingLog = logFor('sequencing');
    // An origin retries a failed write until it is written: a hole lasts as long as its retries (a hung
    // insert is abandoned after operationTimeoutMs, then a backoff). Only an origin that died mid-write
    // leaves one for good; its later messages are then delivered without the missing ones, and a gap reported.
    const holdMs = options.operationTimeoutMs + options.backoff.maxMs + options.heartbeatTimeout;
    this.sequencer = new Sequencer<FeedEvent>(
      {
        deliver: (event, late) => {
          // Only replayable broadcasts matter to offsets: a held heartbeat does not make them unrestorable.
          const matters = late && replayable(event.doc);
          if (matters) this.heldReplayable--;
          this.queue.push({ late: matters, apply: () => this.apply(event) });
        },
        held: (event) => {
          if (replayable(event.doc)) this.heldReplayable++;
        },
        duplicate: ({ origin, seq }) => {
          this.counters.duplicates++;
          if (sequencingLog.tracing) sequencingLog.debug({ origin, seq }, 'duplicate dropped');
          events.emit('duplicate', { node, origin, seq });
        },
        gaveUp: (origin, channel, from, to) => {
          sequencingLog.error(
            { origin, channel, from, to },
            'gave up waiting for messages of an origin; they may be missing',
          );
          const now = new Date();
          this.recordGap({ from: new Date(now.getTime() - holdMs), to: now, reason: 'sequence' });
        },
        trace: (what, { origin, seq }, waitingFor) => {
          if (sequencingLog.tracing) sequencingLog.debug({ origin, seq, waitingFor }, what);
        },
      },
      holdMs,
      MAX_QUEUED_EVENTS,
      Math.min(1000, options.heartbeatInterval),
    );
    this.transport = new Transport(
      collection,
      node,
      options,
      {
        onEvents: (batch) => this.dispatch(batch),
        onState: (state) => this.onFeedState(state),
        onResume: (info) => {
          this.counters.resumes++;
          this.feedLog.warn(info, 'change stream failed, resuming');
          events.emit('resume', { node, ...info });
        },
        onGap: (gap) => this.onHistoryLost(gap),
        ready: () => this.queue.room(),
        waitingForPrimary: () => this.topology.view !== 'primary',
        sent: (doc) => this.probesSent.get(doc)?.(),
        onBatchWritten: (info) => {
          this.counters.published += info.docs;
          this.counters.batches++;
          events.emit('publish', { node, ...info });
        },
        onBatchFailed: (info) => {
          outboxLog.warn(info, 'publish failed');
          events.emit('publish-error', { node, ...info });
        },
        onOverflow: (info) => {
          this.counters.overflows++;
          outboxLog.error(info, 'outbox full, message refused');
          events.emit('overflow', { node, ...info });
        },
        onDepth: (info) => events.emit('outbox', { node, ...info }),
        onRejected: ({ early, ...info }) => {
          this.counters.rejected++;
          // Refusals by MongoDB were logged with the failed batch.
          if (early) outboxLog.warn(info, 'message refused');
          events.emit('rejected', { node, ...info });
        },
      },
      { outbox: outboxLog, feed: this.feedLog },
    );
    this.transport.start();
    const sweep = Math.max(10, Math.min(250, Math.floor(options.heartbeatTimeout / 4)));

    this.timers.push(setInterval(() => this.sweepHeld(), sweep));
    this.timers.push(setInterval(() => this.evictSilent(), Math.max(10, Math.min(1000, options.heartbeatInterval))));
    this.timers.push(setInterval(() => this.forgetOldOrigins(), 60_000));
    for (const timer of this.timers) timer.unref();
  }

  get closed(): boolean {
    return this.closing !== undefined;
  }

  /** Capped sessions collection (the official adapter's setup): say why it is a poor place for sessions. */
  private async inspectSessions(): Promise<void> {
    let capped: { size?: unknown } | undefined;
    try {
      const options = (await this.sessions.options()) as { capped?: unknown; size?: unknown };
      if (options.capped === true) capped = options;
    } catch {
      return; // not created yet, or not allowed to ask: nothing to adjust
    }
    if (!capped) return;
    const size = typeof capped.size === 'number' ? capped.size : Number(capped.size);
    this.log.warn(
      { collection: this.sessions.collectionName, sizeBytes: Number.isFinite(size) ? size : null },
      'recovery sessions are stored in a capped collection: traffic may push them out before clients return (pass the sessions option)',
    );
  }

  attach(member: BusMember): void {
    this.members.set(member.nspName, member);
  }

  /** Removes a namespace; the last one closes the bus after the outbox drained (bounded by closeTimeoutMs). */
  async detach(member: BusMember): Promise<void> {
    if (this.members.get(member.nspName) === member) this.members.delete(member.nspName);
    if (this.members.size > 0) return;
    await this.close();
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const timer of this.timers) clearInterval(timer);
      this.membership.close();
      // One budget for both waits: sessions first (they are written through the outbox's collection too).
      const deadline = Date.now() + this.options.closeTimeoutMs;
      await this.sessionWrites.settled(this.options.closeTimeoutMs);
      await this.transport.close(Math.max(0, deadline - Date.now()));
      this.topology.close();
      this.queue.flush();
      for (const waiter of this.transport.releaseEchoes()) waiter(undefined);
    })();
    return this.closing;
  }

  /** Runs a session write; `close` waits for it (bounded by closeTimeoutMs). */
  trackSessionWrite(write: Promise<void>): Promise<void> {
    return this.sessionWrites.track(write);
  }

  // ---- Membership ----

  /** Heard once and not any more: stop heartbeating, mark what is published `deaf`. */
  get deaf(): boolean {
    return this.membership.deaf;
  }

  /**
   * The driver's view of MongoDB changed. Without a primary the membership clock stops (no deafness, no
   * eviction, no sender given up); when one is elected, what waits for a retry is written at once.
   */
  private mongoChanged(view: MongoView, previous: MongoView): void {
    const log = view === 'primary' ? this.membershipLog.info : this.membershipLog.warn;
    log.call(
      this.membershipLog,
      { mongo: view, was: previous },
      view === 'primary' ? 'MongoDB has a primary' : 'MongoDB has no primary',
    );
    this.membership.mongoChanged(view);
    if (view === 'primary') this.transport.primaryAvailable();
  }

  /** See `Membership.barrier`. */
  barrier(): Promise<boolean> {
    return this.membership.barrier();
  }

  private sendProbe(onSent: () => void, onBack: (cameBack: boolean) => void): void {
    if (this.closing) {
      onBack(false);
      return;
    }
    const probe = this.probeDocument();
    this.probesSent.set(probe, onSent);
    this.transport.publish(probe, (token) => onBack(token !== undefined)).catch(() => undefined);
  }

  /** Addressed to ourselves: MongoDB filters it out of every other node's stream. */
  private probeDocument(): MessageDocument {
    return messageDocument({
      kind: 'probe',
      origin: this.uid,
      uid: this.uid,
      nsp: '',
      type: PROBE_TYPE,
      to: this.uid,
      echo: true,
      createdAt: this.options.addCreatedAtField,
    });
  }

  // ---- Publishing ----

  /**
   * Publishes one message. Resolves when written with the write concern; rejects with a coded error
   * (PAYLOAD_TOO_LARGE and OUTBOX_OVERFLOW before anything is written). Never throws synchronously.
   */
  publish(request: PublishRequest): Promise<void> {
    return this.transport.publish(this.document(request));
  }

  /**
   * Publishes a recoverable broadcast this node delivers to its own sockets itself, at once: the document
   * records its place in this node's delivery order (`at`, and its number). Returns that number, or 0 if it
   * was refused before being numbered (never written; reported through the transport's hooks).
   */
  publishPlaced(request: PublishRequest): number {
    const doc = this.document(request);
    doc.at = this.positions.token ?? '';
    this.transport.publish(doc).catch(() => undefined);
    return doc.seq;
  }

  private document(request: PublishRequest): MessageDocument {
    return messageDocument({
      origin: this.uid,
      uid: request.uid,
      nsp: request.nsp,
      type: request.type,
      data: request.data,
      to: request.to ?? TO_ALL,
      recoverable: request.recoverable === true,
      deaf: this.membership.deaf,
      createdAt: this.options.addCreatedAtField,
    });
  }

  // ---- Receiving ----

  /** One getMore's events, in stream order: sequenced, queued in delivery order, applied within the turn's budget. */
  private dispatch(batch: Array<FeedEvent | ForeignEvent>): void {
    // Holds are timed on the membership clock: an election does not make a sender's retried write late.
    const now = this.membership.clock.now();
    for (const event of batch) {
      if ('foreign' in event) {
        this.queue.push({ late: false, apply: () => this.applyForeign(event) });
        continue;
      }
      const { doc } = event;
      if (doc.origin === this.uid) {
        // Our own probes: in stream order, never reordered (each may have its own waiter).
        this.queue.push({ late: false, apply: () => this.apply(event) });
        continue;
      }
      this.sequencer.accept({ origin: doc.origin, to: doc.to, seq: doc.seq, low: doc.low }, event, now);
    }
    this.queue.drain();
  }

  /** Delivers one event here; returns the socket writes it took. */
  private apply(event: FeedEvent): number {
    const { doc } = event;
    const now = Date.now();
    this.lastEventAt = now;
    this.appliedUpTo.set(channelKey(doc.origin, doc.to), doc.seq);
    if (doc.kind === 'skip') return 0;
    this.counters.received++;
    this.positions.advance(event.token);
    if (doc.origin === this.uid) {
      // Only probes come back to their own node (a restore's marker has no waiter).
      const waiter = this.transport.takeEcho(doc);
      if (waiter) this.safely(() => waiter(event.token));
      return 1;
    }
    if (event.writtenAt !== undefined)
      this.events.emit('lag', { node: this.uid, ms: Math.max(0, now - event.writtenAt) });
    if (doc.kind !== 'message') return 0;
    const member = this.members.get(doc.nsp);
    if (!member) return 0;
    let cost = 1;
    this.safely(() => (cost = member.receive(event)));
    return cost;
  }

  private applyForeign(event: ForeignEvent): number {
    this.lastEventAt = Date.now();
    this.counters.received++;
    this.positions.advance(event.token);
    const member = this.members.get(event.foreign.nsp);
    if (!member) return 0;
    let cost = 1;
    this.safely(() => (cost = member.receiveForeign(event)));
    return cost;
  }

  private safely(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.log.error({ err: errorMessage(error) }, 'delivery failed');
    }
  }

  private sweepHeld(): void {
    if (this.sequencer.held === 0) return;
    this.sequencer.sweep(this.membership.clock.now());
    this.queue.drain();
  }

  private evictSilent(): void {
    const silentTooLong = (lastSeen: number) => this.membership.silentTooLong(lastSeen);
    for (const member of this.members.values()) this.safely(() => member.evictSilent(silentTooLong));
  }

  private onFeedState(state: FeedState): void {
    this.feedLog.info({ changeStream: state }, 'change stream state');
    if (state === 'open') this.membership.streamOpened();
    else this.membership.streamChanged();
  }

  private onHistoryLost(gap: GapInfo): void {
    // Whatever was held waits for messages that were lost with the history: every origin starts afresh.
    this.sequencer.reset();
    this.heldReplayable = 0;
    this.recordGap(gap);
    // Our own probes written in the gap may never come back.
    for (const waiter of this.transport.releaseEchoes()) this.safely(() => waiter(undefined));
    this.membership.historyLost();
  }

  private recordGap(gap: GapInfo): void {
    this.counters.gaps++;
    this.gaps.push(gap);
    if (this.gaps.length > MAX_REMEMBERED_GAPS) this.gaps.shift();
    this.feedLog.error(
      { from: gap.from.toISOString(), to: gap.to.toISOString(), reason: gap.reason },
      'messages in this range may be missing on this node',
    );
    this.events.emit('gap', { node: this.uid, ...gap });
  }

  // ---- For recovery ----

  /** Whether the live feed applied this document here (a restore's replay includes exactly those). */
  applied(doc: MessageDocument): boolean {
    return this.appliedThrough(doc.origin, doc.to, doc.seq);
  }

  /** Whether the live feed applied (or passed over) every document of `origin`'s channel `to` numbered up to `seq`. */
  appliedThrough(origin: string, to: string, seq: number): boolean {
    return (this.appliedUpTo.get(channelKey(origin, to)) ?? 0) >= seq;
  }

  /** Whether this node's own documents for every node, numbered up to `seq`, are written or given up for good. */
  ownSettledThrough(seq: number): boolean {
    return this.transport.settledThrough(TO_ALL, seq);
  }

  /**
   * Writes a probe to this node's own channel (what the live feed does with it: it counts as heard). A
   * restore's replay reads up to it: it was written after everything acknowledged before the call.
   */
  writeMarker(): { seq: number; written: Promise<void> } | undefined {
    if (this.closing) return undefined;
    const probe = this.probeDocument();
    const written = this.transport.publish(probe);
    written.catch(() => undefined);
    return probe.seq > 0 ? { seq: probe.seq, written } : undefined;
  }

  /** Everything read from the stream has been applied in stream order: what is delivered is a stream prefix. */
  get inStreamOrder(): boolean {
    return this.heldReplayable === 0 && this.queue.late === 0;
  }

  emitRestore(nsp: string, ok: boolean, reason: string, missedPackets: number): void {
    this.events.emit('restore', { node: this.uid, nsp, ok, reason, missedPackets });
  }

  gapsSince(time: number): GapInfo[] {
    return this.gaps.filter((gap) => gap.to.getTime() >= time);
  }

  health(): BusHealth {
    const heardAt = this.membership.lastHeardAt;
    return {
      ready: this.membership.ready,
      status: this.membership.status,
      mongo: this.topology.view,
      mongoSince: new Date(this.topology.since),
      changeStream: this.transport.feedState,
      hearing: this.membership.isHearing,
      lastOwnHeartbeatSeenAt: heardAt === undefined ? null : new Date(heardAt),
      lastEventAt: this.lastEventAt === undefined ? null : new Date(this.lastEventAt),
      node: this.uid,
      outbox: this.transport.depth,
      counters: { ...this.counters, deafSpells: this.membership.deafSpells },
      gaps: [...this.gaps],
    };
  }

  private forgetOldOrigins(): void {
    const horizon = this.membership.clock.now() - Math.max(10 * 60_000, 10 * this.options.heartbeatTimeout);
    // Emitters are short-lived origins: without this, a long-running node would remember every one.
    for (const [origin, to] of this.sequencer.forgetIdle(horizon)) this.appliedUpTo.delete(channelKey(origin, to));
  }
}

/** What a session restore may replay (see `replayablePacket`): the only events whose order offsets name. */
function replayable(doc: MessageDocument): boolean {
  return doc.kind === 'message' && doc.type === MessageType.BROADCAST && doc.recoverable;
}

function channelKey(origin: string, to: string): string {
  return `${origin}\u0000${to}`;
}
