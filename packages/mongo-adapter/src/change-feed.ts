import type { ChangeStream, ChangeStreamOptions, Collection, Document } from 'mongodb';
import { backoffDelay, type BackoffOptions } from './backoff.js';
import { asMessageDocument, type MessageDocument } from './document.js';
import { errorFacts, isHistoryLost } from './errors.js';

/** One insert that reached this node, in stream order. */
export interface FeedEvent {
  /** The resume token's `_data`: the server's position of this event, used in offsets and for resuming. */
  token: string;
  /** Cluster time of the event as [seconds, increment], when the server sent it. */
  clusterTime: readonly [number, number] | undefined;
  /** Server wall-clock time of the write, when the server sent it (MongoDB 6+). */
  wallTime: Date | undefined;
  doc: MessageDocument;
}

export type FeedState = 'starting' | 'open' | 'reconnecting' | 'closed';

export interface GapInfo {
  /** Last moment the stream is known to have been complete. */
  from: Date;
  /** When it was reopened from "now". */
  to: Date;
  reason: 'history-lost' | 'invalidate';
}

export interface ChangeFeedHooks {
  /** Runs in its own macrotask, never interleaved with other callbacks of the feed: see `dispatch`. */
  onEvents(events: FeedEvent[]): void;
  onState(state: FeedState): void;
  onResume(info: { attempt: number; delayMs: number; code: number | undefined; message: string }): void;
  onGap(gap: GapInfo): void;
  onLag(ms: number): void;
}

export interface ChangeFeedOptions {
  pipeline: Document[];
  /** User options (batch size, collation, ...); position options are ours and are replaced. */
  changeStreamOptions: ChangeStreamOptions;
  maxAwaitTimeMS: number;
  backoff: BackoffOptions;
  /** Undelivered events above this make the reader wait for dispatch (back-pressure). */
  maxPendingEvents: number;
  /** A getMore not answered within maxAwaitTimeMS + this is abandoned and the stream reopened. */
  stallTimeoutMs: number;
}

interface RawChange {
  _id?: { _data?: unknown };
  operationType?: string;
  fullDocument?: unknown;
  clusterTime?: unknown;
  wallTime?: unknown;
}

/**
 * The one change stream of a node. It keeps the latest resume token (the driver's `resumeToken`, which
 * follows `postBatchResumeToken` between events), reopens with `resumeAfter` after any error with
 * exponential backoff and jitter, and only when the server says the history is gone (286, invalidate)
 * starts again from now, reporting the gap.
 *
 * Events are handed over in batches from a `setImmediate` callback, never from a promise continuation:
 * a session restore can then cut "everything dispatched so far" synchronously, with no batch half
 * dispatched. (socket.io attaches the restored socket much later: what is dispatched meanwhile is kept
 * for it by the adapter, see `restore-handoff.ts`.)
 */
export class ChangeFeed {
  private stream: ChangeStream | undefined;
  private token: { _data: string } | undefined;
  private closed = false;
  private loop: Promise<void> | undefined;
  private pending: FeedEvent[] = [];
  private dispatchScheduled: NodeJS.Immediate | undefined;
  private dispatchWaiters: Array<() => void> = [];
  private lastCompleteAt = new Date();
  private sleepTimer: { timer: NodeJS.Timeout; wake: () => void } | undefined;
  state: FeedState = 'starting';

  constructor(
    private readonly collection: Collection<Document>,
    private readonly options: ChangeFeedOptions,
    private readonly hooks: ChangeFeedHooks,
  ) {}

  start(): void {
    this.loop ??= this.run();
  }

  /** The position a reopened stream would resume after (event token or post-batch token). */
  get resumeToken(): string | undefined {
    return this.token?._data;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.sleepTimer?.wake();
    if (this.stream) await closeWithin(this.stream, this.options.stallTimeoutMs);
    await this.loop;
    this.setState('closed');
  }

  private setState(state: FeedState): void {
    if (this.state === state) return;
    this.state = state;
    this.hooks.onState(state);
  }

  private async run(): Promise<void> {
    let attempt = 0;
    while (!this.closed) {
      const {
        resumeAfter: _r,
        startAfter: _s,
        startAtOperationTime: _t,
        ...userOptions
      } = this.options.changeStreamOptions;
      const stream = this.collection.watch(this.options.pipeline, {
        ...userOptions,
        maxAwaitTimeMS: this.options.maxAwaitTimeMS,
        ...(this.token ? { resumeAfter: this.token } : {}),
      });
      this.stream = stream;
      try {
        for (;;) {
          const change = await this.next(stream);
          if (this.closed) break;
          if (this.state !== 'open') {
            this.setState('open');
            attempt = 0;
          }
          if (change) await this.accept(change);
          else this.lastCompleteAt = new Date();
          this.captureToken(stream);
          if (change?.operationType === 'invalidate') {
            this.restartFromNow('invalidate');
            break;
          }
          if (stream.closed && !this.closed)
            throw Object.assign(new Error('change stream closed by the server'), { code: undefined });
        }
      } catch (error) {
        if (this.closed) break;
        await closeWithin(stream, this.options.stallTimeoutMs);
        if (isHistoryLost(error)) {
          this.restartFromNow('history-lost');
          continue;
        }
        this.setState('reconnecting');
        const facts = errorFacts(error);
        const delayMs = backoffDelay(this.options.backoff, attempt);
        this.hooks.onResume({ attempt: ++attempt, delayMs, code: facts.code, message: facts.message });
        await this.sleep(delayMs);
        continue;
      }
      await closeWithin(stream, this.options.stallTimeoutMs);
    }
    await this.flushPending();
  }

  /** `tryNext()`, unless it hangs (a connection that died silently): then it fails and the stream is reopened. */
  private async next(stream: ChangeStream): Promise<RawChange | null> {
    let timer: NodeJS.Timeout | undefined;
    const stalled = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(Object.assign(new Error('change stream getMore did not answer; reopening'), { code: undefined })),
        this.options.maxAwaitTimeMS + this.options.stallTimeoutMs,
      );
    });
    const attempt = stream.tryNext() as Promise<RawChange | null>;
    attempt.catch(() => undefined);
    try {
      return await Promise.race([attempt, stalled]);
    } finally {
      clearTimeout(timer);
    }
  }

  private restartFromNow(reason: GapInfo['reason']): void {
    const from = this.lastCompleteAt;
    this.token = undefined;
    this.setState('reconnecting');
    // Reported once the new stream is positioned, so `to` is when delivery resumed.
    this.gapReason = { from, reason };
  }

  private gapReason: { from: Date; reason: GapInfo['reason'] } | undefined;

  private captureToken(stream: ChangeStream): void {
    const token = stream.resumeToken as { _data?: unknown } | undefined | null;
    if (token && typeof token._data === 'string') this.token = { _data: token._data };
    if (this.gapReason && this.state === 'open') {
      const { from, reason } = this.gapReason;
      this.gapReason = undefined;
      this.hooks.onGap({ from, to: new Date(), reason });
    }
  }

  private async accept(change: RawChange): Promise<void> {
    this.lastCompleteAt = new Date();
    if (change.operationType !== 'insert') return;
    const doc = asMessageDocument(change.fullDocument);
    const token = change._id?._data;
    if (!doc || typeof token !== 'string') return;
    this.pending.push({
      token,
      clusterTime: readTimestamp(change.clusterTime),
      wallTime: change.wallTime instanceof Date ? change.wallTime : undefined,
      doc,
    });
    this.scheduleDispatch();
    if (this.pending.length >= this.options.maxPendingEvents) await this.flushPending();
  }

  private scheduleDispatch(): void {
    this.dispatchScheduled ??= setImmediate(() => this.dispatch());
  }

  private dispatch(): void {
    this.dispatchScheduled = undefined;
    const batch = this.pending;
    this.pending = [];
    if (batch.length > 0) {
      const last = batch[batch.length - 1]!;
      const writtenAt = last.wallTime?.getTime() ?? (last.clusterTime ? last.clusterTime[0] * 1000 : undefined);
      this.hooks.onEvents(batch);
      if (writtenAt !== undefined) this.hooks.onLag(Math.max(0, Date.now() - writtenAt));
    }
    for (const waiter of this.dispatchWaiters.splice(0)) waiter();
  }

  private flushPending(): Promise<void> {
    if (this.pending.length === 0) return Promise.resolve();
    this.scheduleDispatch();
    return new Promise((resolve) => this.dispatchWaiters.push(resolve));
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.sleepTimer = undefined;
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.sleepTimer = { timer, wake };
    });
  }
}

export async function closeWithin(stream: ChangeStream, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    stream.close().catch(() => undefined),
    new Promise((resolve) => (timer = setTimeout(resolve, ms))),
  ]);
  clearTimeout(timer);
}

function readTimestamp(value: unknown): readonly [number, number] | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const ts = value as { _bsontype?: unknown; high?: unknown; low?: unknown };
  if (ts._bsontype !== 'Timestamp' || typeof ts.high !== 'number' || typeof ts.low !== 'number') return undefined;
  return [ts.high >>> 0, ts.low >>> 0];
}
