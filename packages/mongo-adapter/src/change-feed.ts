import { Timestamp, type ChangeStream, type ChangeStreamOptions, type Collection, type Document } from 'mongodb';
import { backoffDelay, type BackoffOptions } from './backoff.js';
import { asForeignDocument, asMessageDocument, type ForeignDocument, type MessageDocument } from './document.js';
import { errorFacts, isHistoryLost } from './errors.js';

/** One insert that reached this node, in stream order. */
export interface FeedEvent {
  /** The resume token's `_data`: the server's position of this event, used in offsets and for resuming. */
  token: string;
  /** Server wall-clock time of the write, when the server sent it (MongoDB 6+), else its cluster time. */
  writtenAt: number | undefined;
  doc: MessageDocument;
}

/** An insert by a node still running `@socket.io/mongo-adapter` (rolling migration). */
export interface ForeignEvent {
  token: string;
  foreign: ForeignDocument;
}

export type FeedState = 'starting' | 'open' | 'reconnecting' | 'closed';

export interface GapInfo {
  /** Last moment the stream is known to have been complete. */
  from: Date;
  /** From when it is complete again. */
  to: Date;
  reason: 'history-lost' | 'invalidate' | 'sequence';
}

export interface ChangeFeedHooks {
  /** One getMore's worth of events, in stream order, handed over synchronously as soon as it arrived. */
  onEvents(events: Array<FeedEvent | ForeignEvent>): void;
  onState(state: FeedState): void;
  onResume(info: { attempt: number; delayMs: number; code: number | undefined; message: string }): void;
  onGap(gap: GapInfo): void;
  /** Resolves when the node has room for more events (back-pressure); called after each batch. */
  ready(): Promise<void> | undefined;
  trace?(info: { events: number }): void;
  /** Where the stream starts again after lost history (`from` undefined: from now). */
  restarting?(info: { reason: string; from: string | undefined }): void;
}

export interface ChangeFeedOptions {
  pipeline: Document[];
  /** User options (batch size, collation, ...); position options are the adapter's. */
  changeStreamOptions: ChangeStreamOptions;
  maxAwaitTimeMS: number;
  backoff: BackoffOptions;
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

/** Where the next stream starts. */
type Position =
  | { resumeAfter: { _data: string } }
  | { startAfter: { _data: string } }
  | { startAtOperationTime: Timestamp }
  | Record<string, never>;

/**
 * The one change stream of a node. It keeps the latest resume token (the driver's `resumeToken`, which
 * follows `postBatchResumeToken` between events) and reopens with `resumeAfter` after any error, with
 * exponential backoff and jitter. After an invalidate (collection dropped or renamed) it starts after the
 * invalidate, losing nothing. When the server says the history is gone (286), it starts again from the
 * oldest point the server still has (found by asking), and reports only the span really lost.
 *
 * A getMore's batch is read from the driver's buffer without timers (only a network wait is watched for
 * a stall) and handed over in one synchronous call.
 */
export class ChangeFeed {
  private stream: ChangeStream | undefined;
  private position: Position = {};
  private closed = false;
  private loop: Promise<void> | undefined;
  /** When the stream was last known complete (for gaps), and the cluster time it had reached. */
  private lastCompleteAt = new Date();
  private lastTime: { t: number; i: number } | undefined;
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

  private open(): ChangeStream {
    const {
      resumeAfter: _r,
      startAfter: _s,
      startAtOperationTime: _t,
      ...userOptions
    } = this.options.changeStreamOptions;
    return this.collection.watch(this.options.pipeline, {
      ...userOptions,
      maxAwaitTimeMS: this.options.maxAwaitTimeMS,
      // Binary payloads come back as Buffers (what socket.io sends as attachments) without another walk.
      promoteBuffers: true,
      ...this.position,
    });
  }

  private async run(): Promise<void> {
    let attempt = 0;
    while (!this.closed) {
      let stream: ChangeStream | undefined;
      try {
        stream = this.open();
        this.stream = stream;
        for (;;) {
          const batch = await this.nextBatch(stream);
          if (this.closed) break;
          if (this.state !== 'open') {
            this.setState('open');
            attempt = 0;
          }
          this.lastCompleteAt = new Date();
          const invalidated = this.handOver(batch);
          this.capturePosition(stream);
          if (invalidated) {
            this.position = { startAfter: invalidated };
            break;
          }
          const wait = this.hooks.ready();
          if (wait) await wait;
          if (stream.closed && !this.closed)
            throw Object.assign(new Error('change stream closed by the server'), { code: undefined });
        }
      } catch (error) {
        if (this.closed) break;
        if (stream) await closeWithin(stream, this.options.stallTimeoutMs);
        if (isHistoryLost(error)) {
          this.setState('reconnecting');
          await this.restartFromOldest();
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
  }

  /**
   * The events of one getMore. Waiting on the network is watched for a stall (a connection that died
   * silently); what the driver has buffered is then read without any timer.
   */
  private async nextBatch(stream: ChangeStream): Promise<RawChange[]> {
    const first = await this.watched(stream.tryNext() as Promise<RawChange | null>);
    if (!first) return [];
    const batch = [first];
    while (stream.bufferedCount() > 0) {
      const change = (await stream.tryNext()) as RawChange | null;
      if (!change) break;
      batch.push(change);
    }
    return batch;
  }

  private async watched<T>(operation: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    operation.catch(() => undefined);
    const stalled = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(Object.assign(new Error('change stream getMore did not answer; reopening'), { code: undefined })),
        this.options.maxAwaitTimeMS + this.options.stallTimeoutMs,
      );
    });
    try {
      return await Promise.race([operation, stalled]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Hands the batch over; returns the invalidate's token if the batch ends the stream. */
  private handOver(batch: RawChange[]): { _data: string } | undefined {
    const events: Array<FeedEvent | ForeignEvent> = [];
    let invalidated: { _data: string } | undefined;
    for (const change of batch) {
      const token = change._id?._data;
      if (typeof token !== 'string') continue;
      const time = readTimestamp(change.clusterTime);
      if (time) this.lastTime = time;
      if (change.operationType === 'invalidate') {
        invalidated = { _data: token };
        break;
      }
      if (change.operationType !== 'insert') continue;
      const doc = asMessageDocument(change.fullDocument);
      if (doc) {
        const writtenAt =
          change.wallTime instanceof Date ? change.wallTime.getTime() : time ? time.t * 1000 : undefined;
        events.push({ token, writtenAt, doc });
        continue;
      }
      const foreign = asForeignDocument(change.fullDocument);
      if (foreign) events.push({ token, foreign });
    }
    if (events.length > 0) {
      this.hooks.trace?.({ events: events.length });
      this.hooks.onEvents(events);
    }
    return invalidated;
  }

  private capturePosition(stream: ChangeStream): void {
    const token = stream.resumeToken as { _data?: unknown } | undefined | null;
    if (token && typeof token._data === 'string') {
      this.position = { resumeAfter: { _data: token._data } };
      this.lastTime = tokenTime(token._data) ?? this.lastTime;
    }
  }

  /**
   * The history after our position is gone. Rather than start from "now" (losing also what was written
   * while we reconnect), start from the oldest point the server still has: a binary search on
   * `startAtOperationTime` between the last time we had reached and the server's present.
   */
  private async restartFromOldest(): Promise<void> {
    const from = this.lastCompleteAt;
    const lower = this.lastTime;
    let oldest: Timestamp | undefined;
    try {
      oldest = lower ? await this.oldestAvailable(lower) : undefined;
    } catch {
      oldest = undefined;
    }
    this.position = oldest ? { startAtOperationTime: oldest } : {};
    this.hooks.restarting?.({
      reason: 'history-lost',
      from: oldest ? `${oldest.high}.${oldest.low}` : undefined,
    });
    const to = oldest ? new Date(Math.max(from.getTime(), Number(oldest.high) * 1000)) : new Date();
    this.hooks.onGap({ from, to, reason: 'history-lost' });
  }

  private async oldestAvailable(lower: { t: number; i: number }): Promise<Timestamp | undefined> {
    const present = await this.presentTime();
    if (!present) return undefined;
    let lo = toBig(lower) + 1n;
    let hi = toBig(present) + 1n;
    if (!(await this.available(hi))) return undefined;
    // Invariant: `hi` is available; everything below `lo` is known lost.
    while (lo < hi && !this.closed) {
      const mid = (lo + hi) >> 1n;
      if (await this.available(mid)) hi = mid;
      else lo = mid + 1n;
    }
    return fromBig(hi);
  }

  /** The server's present cluster time (a stream opened now reports it as its first position). */
  private async presentTime(): Promise<{ t: number; i: number } | undefined> {
    const stream = this.collection.watch([{ $match: { _never: true } }], { maxAwaitTimeMS: 1 });
    try {
      await this.watched(stream.tryNext());
      const token = stream.resumeToken as { _data?: unknown } | null;
      return typeof token?._data === 'string' ? tokenTime(token._data) : undefined;
    } finally {
      await closeWithin(stream, this.options.stallTimeoutMs);
    }
  }

  private async available(at: bigint): Promise<boolean> {
    const stream = this.collection.watch([{ $match: { _never: true } }], {
      maxAwaitTimeMS: 1,
      startAtOperationTime: fromBig(at),
    });
    try {
      await this.watched(stream.tryNext());
      return true;
    } catch (error) {
      if (isHistoryLost(error)) return false;
      throw error;
    } finally {
      await closeWithin(stream, this.options.stallTimeoutMs);
    }
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

function readTimestamp(value: unknown): { t: number; i: number } | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const ts = value as { _bsontype?: unknown; high?: unknown; low?: unknown };
  if (ts._bsontype !== 'Timestamp' || typeof ts.high !== 'number' || typeof ts.low !== 'number') return undefined;
  return { t: ts.high >>> 0, i: ts.low >>> 0 };
}

/**
 * The cluster time a resume token stands for. MongoDB's `_data` is a hex KeyString that starts with the
 * event's Timestamp (type byte 0x82, then seconds and increment, big-endian); tokens of another shape
 * yield undefined.
 */
export function tokenTime(data: string): { t: number; i: number } | undefined {
  if (data.length < 18 || !/^82[0-9a-fA-F]{16}/.test(data)) return undefined;
  return { t: Number.parseInt(data.slice(2, 10), 16), i: Number.parseInt(data.slice(10, 18), 16) };
}

function toBig(time: { t: number; i: number }): bigint {
  return (BigInt(time.t) << 32n) | BigInt(time.i);
}

function fromBig(value: bigint): Timestamp {
  return new Timestamp({ t: Number(value >> 32n), i: Number(value & 0xffffffffn) });
}
