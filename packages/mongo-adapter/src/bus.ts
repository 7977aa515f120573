import { randomBytes } from 'node:crypto';
import type { Collection, Document } from 'mongodb';
import { ChangeFeed, type FeedEvent, type FeedState, type GapInfo } from './change-feed.js';
import { documentBytes, feedPipeline, messageDocument, TO_ALL, type MessageDocument } from './document.js';
import { errorFacts, MongoAdapterError } from './errors.js';
import type { AdapterEvents } from './events.js';
import type { ResolvedOptions } from './options.js';
import { Outbox } from './outbox.js';

/** What the bus needs from a namespace adapter. */
export interface BusMember {
  readonly nspName: string;
  /** A message from another node (or an emitter) for this namespace, in stream order. */
  receive(doc: MessageDocument, event: FeedEvent): void;
  /** This node started or stopped hearing the cluster (its own probes come back, or not). */
  hearingChanged(hearing: boolean): void;
  /** History was lost; anything waiting for its own echo will not get one. */
  gapOccurred(gap: GapInfo): void;
}

export interface PublishRequest {
  uid: string;
  nsp: string;
  type: number;
  data?: unknown;
  /** Responses: the uid of the requester. Default: every node. */
  to?: string;
  recoverable?: boolean;
  /**
   * Asks for this node's own copy back through the change stream. Called synchronously, during dispatch,
   * with the event's resume token; or with `undefined` if the write failed or a gap swallowed it.
   */
  onEcho?: (token: string | undefined) => void;
}

export interface BusHealth {
  /** The change stream is open and this node's own probe came back through it within heartbeatTimeout. */
  ready: boolean;
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
}

const MAX_REMEMBERED_GAPS = 64;

/**
 * The process-level half of the adapter, shared by every namespace of one socket.io server: one outbox,
 * one change stream, one sequence of this node's messages, and the duplicate filter. It routes each
 * incoming message to the namespace adapter it is for.
 */
export class Bus {
  readonly uid = randomBytes(8).toString('hex');
  readonly sessions: Collection<Document>;
  private seq = 0;
  private readonly outbox: Outbox;
  private readonly feed: ChangeFeed;
  private readonly members = new Map<string, BusMember>();
  private readonly seen = new Map<string, { seq: number; at: number }>();
  private readonly echoWaiters = new Map<number, (token: string | undefined) => void>();
  private privateCounter = 0;
  /** Identity and position of the last event dispatched here (used by restores to cut the replay). */
  lastDispatched: { origin: string; seq: number } | undefined;
  lastToken: string | undefined;
  private lastEventAt: number | undefined;
  private lastProbeSeenAt: number | undefined;
  private probePending = false;
  private hearing = false;
  private everHeard = false;
  private readyReported = false;
  private readonly gaps: GapInfo[] = [];
  private readonly timers: NodeJS.Timeout[] = [];
  private closing: Promise<void> | undefined;
  /** Barrier requests of this event-loop turn: they share one probe (see `barrier`). */
  private barrierWaiters: Array<(caughtUp: boolean) => void> | undefined;
  /** Session writes in flight: close waits for them, so a draining node's sessions are stored. */
  private readonly sessionWrites = new Set<Promise<void>>();
  readonly counters: BusCounters = {
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
    this.sessions = options.sessions ?? collection;
    const node = this.uid;
    this.outbox = new Outbox(
      collection,
      {
        batchWindowMs: options.batchWindowMs,
        maxBatchDocs: options.maxBatchDocs,
        maxBatchBytes: options.maxBatchBytes,
        maxQueuedDocs: options.outboxMaxDocs,
        maxQueuedBytes: options.outboxMaxBytes,
        writeConcern: options.writeConcern,
        operationTimeoutMs: options.operationTimeoutMs,
        backoff: options.backoff,
        retryForever: true,
      },
      {
        onBatchWritten: (info) => {
          this.counters.published += info.docs;
          this.counters.batches++;
          events.emit('publish', { node, ...info });
        },
        onBatchFailed: (info) => {
          options.logger.warn({ node, ...info }, 'mongo-adapter: publish failed');
          events.emit('publish-error', { node, ...info });
        },
        onOverflow: (info) => {
          this.counters.overflows++;
          options.logger.error({ node, ...info }, 'mongo-adapter: outbox full, message refused');
          events.emit('overflow', { node, ...info });
        },
        onDepth: (info) => events.emit('outbox', { node, ...info }),
      },
      // Nothing is written before this node can hear the answers (heartbeat replies, responses).
      { startGated: true },
    );
    this.feed = new ChangeFeed(
      collection,
      {
        pipeline: feedPipeline(this.uid),
        changeStreamOptions: options.changeStreamOptions,
        maxAwaitTimeMS: options.maxAwaitTimeMS,
        backoff: options.backoff,
        maxPendingEvents: 10_000,
        stallTimeoutMs: options.operationTimeoutMs,
      },
      {
        onEvents: (batch) => this.dispatch(batch),
        onState: (state) => this.onFeedState(state),
        onResume: (info) => {
          this.counters.resumes++;
          options.logger.warn({ node, ...info }, 'mongo-adapter: change stream failed, resuming');
          events.emit('resume', { node, ...info });
        },
        onGap: (gap) => this.onGap(gap),
        onLag: (ms) => events.emit('lag', { node, ms }),
      },
    );
    this.feed.start();
    const tick = Math.max(10, Math.min(1000, Math.floor(options.heartbeatInterval / 2)));
    this.timers.push(setInterval(() => this.sendProbe(), options.heartbeatInterval));
    this.timers.push(setInterval(() => this.checkHearing(), tick));
    this.timers.push(setInterval(() => this.forgetOldOrigins(), 60_000));
    for (const timer of this.timers) timer.unref();
  }

  get closed(): boolean {
    return this.closing !== undefined;
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
      await this.settleSessionWrites(this.options.closeTimeoutMs);
      await this.outbox.drain(this.options.closeTimeoutMs);
      this.outbox.close();
      await this.feed.close();
      for (const waiter of this.echoWaiters.values()) waiter(undefined);
      this.echoWaiters.clear();
    })();
    return this.closing;
  }

  /** Runs a session write; `close` waits for it (bounded by closeTimeoutMs). */
  trackSessionWrite(write: Promise<void>): Promise<void> {
    this.sessionWrites.add(write);
    const forget = () => this.sessionWrites.delete(write);
    write.then(forget, forget);
    return write;
  }

  private async settleSessionWrites(timeoutMs: number): Promise<void> {
    if (this.sessionWrites.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.sessionWrites]),
      new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs))),
    ]);
    clearTimeout(timer);
  }

  /**
   * Resolves true once this node's live feed has dispatched everything written to the collection before
   * the call: a probe addressed to this node, written after the call, came back through the feed. False if
   * it cannot come back (write refused, history lost, closing). Requests of one event-loop turn share a probe.
   */
  barrier(): Promise<boolean> {
    return new Promise((resolve) => {
      if (this.barrierWaiters) {
        this.barrierWaiters.push(resolve);
        return;
      }
      const waiters = [resolve];
      this.barrierWaiters = waiters;
      setImmediate(() => {
        this.barrierWaiters = undefined;
        const probe = messageDocument({
          kind: 'probe',
          origin: this.uid,
          uid: this.uid,
          nsp: '',
          type: 0,
          to: this.uid,
          echo: true,
        });
        const settle = (token: string | undefined) => {
          for (const waiter of waiters) waiter(token !== undefined);
        };
        this.enqueue(probe, settle).catch(() => undefined);
      });
    });
  }

  /**
   * Publishes one message. Resolves when written with the write concern; rejects with a coded error
   * (PAYLOAD_TOO_LARGE and OUTBOX_OVERFLOW before anything is written). Never throws synchronously.
   */
  publish(request: PublishRequest): Promise<void> {
    const doc = messageDocument({
      origin: this.uid,
      uid: request.uid,
      nsp: request.nsp,
      type: request.type,
      data: request.data,
      to: request.to ?? TO_ALL,
      echo: request.onEcho !== undefined,
      recoverable: request.recoverable === true,
      deaf: this.everHeard && !this.hearing,
    });
    return this.enqueue(doc, request.onEcho);
  }

  private enqueue(doc: MessageDocument, onEcho?: (token: string | undefined) => void): Promise<void> {
    if (this.closing) return this.refuse(doc, new MongoAdapterError('ADAPTER_CLOSED'), 0, onEcho);
    let bytes: number;
    try {
      bytes = documentBytes(doc);
    } catch (error) {
      return this.refuse(
        doc,
        new MongoAdapterError('PUBLISH_FAILED', `The message cannot be stored as BSON: ${errorFacts(error).message}`, {
          cause: error,
        }),
        0,
        onEcho,
      );
    }
    if (bytes > this.options.maxDocumentBytes) {
      return this.refuse(
        doc,
        new MongoAdapterError(
          'PAYLOAD_TOO_LARGE',
          `The message is ${bytes} bytes; at most ${this.options.maxDocumentBytes} fit in one change event`,
        ),
        bytes,
        onEcho,
      );
    }
    const written = this.outbox.enqueue(doc, bytes, () => {
      doc.seq = ++this.seq;
      if (onEcho) this.echoWaiters.set(doc.seq, onEcho);
    });
    if (onEcho) {
      written.catch(() => {
        if (this.echoWaiters.get(doc.seq) === onEcho) {
          this.echoWaiters.delete(doc.seq);
          onEcho(undefined);
        }
      });
    }
    written.catch((error: unknown) => {
      const code = (error as { code?: unknown }).code;
      if (code === 'OUTBOX_OVERFLOW' || code === 'PUBLISH_FAILED' || code === 'ADAPTER_CLOSED') {
        this.counters.rejected++;
        this.events.emit('rejected', { node: this.uid, code, nsp: doc.nsp, type: doc.type, bytes });
      }
    });
    return written;
  }

  private refuse(
    doc: MessageDocument,
    error: MongoAdapterError,
    bytes: number,
    onEcho?: (token: string | undefined) => void,
  ): Promise<void> {
    this.counters.rejected++;
    this.options.logger.warn(
      { node: this.uid, code: error.code, nsp: doc.nsp, type: doc.type, bytes },
      'mongo-adapter: message refused',
    );
    this.events.emit('rejected', { node: this.uid, code: error.code, nsp: doc.nsp, type: doc.type, bytes });
    onEcho?.(undefined);
    return Promise.reject(error);
  }

  /** The offset a packet delivered here right now gets: the server position, then this node's own counter. */
  offsetFor(token: string): string {
    return `${token}~${this.uid}~${this.privateCounter}`;
  }

  /**
   * The offset of a packet that never leaves this node: after the last event delivered here, and after
   * every earlier private packet. Undefined until the first event arrived (nothing to anchor it to).
   */
  nextPrivateOffset(): { offset: string; base: string; k: number } | undefined {
    if (this.lastToken === undefined) return undefined;
    const k = ++this.privateCounter;
    return { offset: `${this.lastToken}~${this.uid}~${k}`, base: this.lastToken, k };
  }

  /** Whether the live feed already dispatched this message (restores include exactly those). */
  dispatched(origin: string, seq: number): boolean {
    const last = this.seen.get(origin);
    return last !== undefined && last.seq >= seq;
  }

  emitRestore(nsp: string, ok: boolean, reason: string, missedPackets: number): void {
    this.events.emit('restore', { node: this.uid, nsp, ok, reason, missedPackets });
  }

  gapsSince(time: number): GapInfo[] {
    return this.gaps.filter((gap) => gap.to.getTime() >= time);
  }

  health(): BusHealth {
    return {
      ready: this.isReady(),
      changeStream: this.feed.state,
      hearing: this.hearing,
      lastOwnHeartbeatSeenAt: this.lastProbeSeenAt === undefined ? null : new Date(this.lastProbeSeenAt),
      lastEventAt: this.lastEventAt === undefined ? null : new Date(this.lastEventAt),
      node: this.uid,
      outbox: this.outbox.depth,
      counters: { ...this.counters },
      gaps: [...this.gaps],
    };
  }

  /** Whether this node hears the cluster (false only after it did once and then stopped). */
  get deaf(): boolean {
    return this.everHeard && !this.hearing;
  }

  private isReady(): boolean {
    return this.feed.state === 'open' && this.probeFresh();
  }

  private probeFresh(): boolean {
    return this.lastProbeSeenAt !== undefined && Date.now() - this.lastProbeSeenAt <= this.options.heartbeatTimeout;
  }

  private dispatch(batch: FeedEvent[]): void {
    const now = Date.now();
    for (const event of batch) {
      const { doc } = event;
      const last = this.seen.get(doc.origin);
      if (last !== undefined && doc.seq <= last.seq) {
        this.counters.duplicates++;
        this.events.emit('duplicate', { node: this.uid, origin: doc.origin, seq: doc.seq });
        continue;
      }
      this.seen.set(doc.origin, { seq: doc.seq, at: now });
      this.lastDispatched = { origin: doc.origin, seq: doc.seq };
      this.lastToken = event.token;
      this.lastEventAt = now;
      this.counters.received++;
      if (doc.origin === this.uid) {
        const waiter = this.echoWaiters.get(doc.seq);
        if (waiter) {
          this.echoWaiters.delete(doc.seq);
          this.safely(() => waiter(event.token));
        }
        if (doc.kind === 'probe') {
          // Any own probe proves hearing; only the heartbeat probe (no waiter: not a barrier) is awaited.
          if (!waiter) this.probePending = false;
          this.lastProbeSeenAt = now;
          this.checkHearing();
        }
        continue;
      }
      if (doc.kind !== 'message') continue;
      const member = this.members.get(doc.nsp);
      if (member) this.safely(() => member.receive(doc, event));
    }
  }

  private safely(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.options.logger.error({ node: this.uid, err: errorFacts(error).message }, 'mongo-adapter: delivery failed');
    }
  }

  private onFeedState(state: FeedState): void {
    if (state === 'open') this.outbox.open();
    this.options.logger.info({ node: this.uid, changeStream: state }, 'mongo-adapter: change stream state');
    this.reportReadiness(true);
    if (state === 'open' && !this.probePending) this.sendProbe();
  }

  private onGap(gap: GapInfo): void {
    this.counters.gaps++;
    this.gaps.push(gap);
    if (this.gaps.length > MAX_REMEMBERED_GAPS) this.gaps.shift();
    this.options.logger.error(
      { node: this.uid, from: gap.from.toISOString(), to: gap.to.toISOString(), reason: gap.reason },
      'mongo-adapter: change stream history lost; messages in this range may be missing',
    );
    this.events.emit('gap', { node: this.uid, ...gap });
    // Our own messages written in the gap will never come back: deliver what waits for them now.
    const waiters = [...this.echoWaiters.values()];
    this.echoWaiters.clear();
    for (const waiter of waiters) this.safely(() => waiter(undefined));
    for (const member of this.members.values()) this.safely(() => member.gapOccurred(gap));
    this.probePending = false;
    this.sendProbe();
  }

  private sendProbe(): void {
    if (this.closing || this.probePending) return;
    this.probePending = true;
    this.probeSentAt = Date.now();
    // Addressed to ourselves: MongoDB filters it out of every other node's stream.
    const probe = messageDocument({
      kind: 'probe',
      origin: this.uid,
      uid: this.uid,
      nsp: '',
      type: 0,
      to: this.uid,
      echo: true,
    });
    this.enqueue(probe).catch(() => {
      this.probePending = false;
    });
  }

  private checkHearing(): void {
    const hearing = this.probeFresh();
    if (hearing && !this.hearing) {
      const wasDeaf = this.everHeard;
      this.hearing = true;
      this.everHeard = true;
      if (wasDeaf) {
        this.options.logger.warn({ node: this.uid }, 'mongo-adapter: hearing the cluster again');
        for (const member of this.members.values()) this.safely(() => member.hearingChanged(true));
      }
    } else if (!hearing && this.hearing) {
      this.hearing = false;
      this.options.logger.error(
        { node: this.uid },
        'mongo-adapter: own probes no longer come back; leaving the cluster until they do',
      );
      for (const member of this.members.values()) this.safely(() => member.hearingChanged(false));
    }
    // A probe lost with its stream (pending for longer than the timeout) is sent again.
    if (this.probePending && Date.now() - this.probeSentAt > this.options.heartbeatTimeout) this.probePending = false;
    this.reportReadiness(false);
  }

  private probeSentAt = 0;

  private reportReadiness(force: boolean): void {
    const ready = this.isReady();
    if (!force && ready === this.readyReported) return;
    this.readyReported = ready;
    this.events.emit('state', { node: this.uid, changeStream: this.feed.state, ready });
  }

  private forgetOldOrigins(): void {
    const horizon = Date.now() - Math.max(10 * 60_000, 10 * this.options.heartbeatTimeout);
    for (const [origin, last] of this.seen) if (last.at < horizon) this.seen.delete(origin);
  }
}
