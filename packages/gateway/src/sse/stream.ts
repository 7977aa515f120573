import type { ServerResponse } from 'node:http';
import { ERRORS, type ErrorCode, type ShutdownNotice, type SseError } from '@switchyard/protocol';
import { frame, HEARTBEAT, type SseFrame } from './frames.js';
import { countSent, type SseMetrics } from './metrics.js';

/*
 * One open `text/event-stream` response. Writes go straight to the socket until Node says its
 * buffer is full (`write()` returns false); from then on frames wait in a queue bounded in
 * events and bytes until 'drain'. A client that lets the queue overflow is too slow: it gets a
 * final `event: error` (SLOW_CONSUMER, with the last id written) and the stream ends, so the
 * memory one stream can hold is bounded whatever the client does.
 *
 * While a resuming stream replays history, live events are held (same bounds) and released
 * once the replay is done, minus those the replay already carried: no gap, no duplicate.
 */

export interface SseStreamOptions {
  res: ServerResponse;
  room: string;
  /** User id, or IP address when anonymous: what per-client limits count. */
  clientKey: string;
  /** Whether `typing` events are wanted. */
  typing: boolean;
  bufferBytes: number;
  bufferEvents: number;
  /** The id the client resumed from; with no replay it starts live at once. */
  resumeFrom: string | undefined;
  metrics: SseMetrics;
  /** Called once, when the stream ends for whatever reason. */
  onClose: (stream: SseStream) => void;
}

type Phase = 'replay' | 'live' | 'closed';

/** How long an ended stream may take to flush its last frame before its socket is destroyed. */
const CLOSE_GRACE_MS = 5000;

export class SseStream {
  readonly room: string;
  readonly clientKey: string;
  readonly #res: ServerResponse;
  readonly #typing: boolean;
  readonly #maxBytes: number;
  readonly #maxEvents: number;
  readonly #metrics: SseMetrics;
  readonly #onClose: (stream: SseStream) => void;
  #phase: Phase;
  /** Live frames that arrived during the replay. */
  #held: SseFrame[] = [];
  #heldBytes = 0;
  /** Frames waiting for 'drain'. */
  #queue: SseFrame[] = [];
  #queuedBytes = 0;
  #awaitingDrain = false;
  #writableWaiters: (() => void)[] = [];
  #lastEventId: string | undefined;

  constructor(options: SseStreamOptions) {
    this.room = options.room;
    this.clientKey = options.clientKey;
    this.#res = options.res;
    this.#typing = options.typing;
    this.#maxBytes = options.bufferBytes;
    this.#maxEvents = options.bufferEvents;
    this.#metrics = options.metrics;
    this.#onClose = options.onClose;
    this.#lastEventId = options.resumeFrom;
    this.#phase = options.resumeFrom === undefined ? 'live' : 'replay';
    this.#res.once('close', () => this.#closed());
  }

  get closed(): boolean {
    return this.#phase === 'closed';
  }

  /** The id of the last `message:new` written to the connection (or the one resumed from). */
  get lastEventId(): string | undefined {
    return this.#lastEventId;
  }

  /** What this stream holds in memory: held and queued frames, and Node's write buffer. */
  get bufferedBytes(): number {
    return this.#heldBytes + this.#queuedBytes + this.#res.writableLength;
  }

  /** Raw bytes ahead of any event (the preamble). */
  writeRaw(bytes: Buffer): void {
    if (this.#phase !== 'closed' && !this.#res.write(bytes)) this.#awaitDrain();
  }

  /** A live room event. */
  offer(live: SseFrame): void {
    if (this.#phase === 'closed' || (live.event === 'typing' && !this.#typing)) return;
    if (this.#phase === 'live') return this.#send(live);
    this.#held.push(live);
    this.#heldBytes += live.bytes.length;
    if (this.#held.length > this.#maxEvents || this.#heldBytes > this.#maxBytes) this.#tooSlow();
  }

  /** A replayed frame: waits for the client to keep up rather than overflowing. False once closed. */
  async replay(replayed: SseFrame): Promise<boolean> {
    while (this.#awaitingDrain && this.#phase !== 'closed')
      await new Promise<void>((resolve) => this.#writableWaiters.push(resolve));
    if (this.#phase === 'closed') return false;
    this.#write(replayed);
    return true;
  }

  /** Ends the replay: held live frames follow, except messages up to `lastReplayedId`. */
  goLive(lastReplayedId: string | undefined): void {
    if (this.#phase !== 'replay') return;
    const held = this.#held;
    this.#held = [];
    this.#heldBytes = 0;
    this.#phase = 'live';
    for (const live of held) {
      if (this.#phase !== 'live') return;
      const replayed = lastReplayedId !== undefined && live.id !== undefined && live.id <= lastReplayedId;
      if (!replayed) this.#send(live);
    }
  }

  heartbeat(): void {
    if (this.#phase !== 'closed' && !this.#awaitingDrain && !this.#res.write(HEARTBEAT)) this.#awaitDrain();
  }

  /** Graceful shutdown: a retry hint and `server:shutdown`, then the end; the client reconnects elsewhere. */
  shutdown(notice: ShutdownNotice): void {
    const last = frame('server:shutdown', notice);
    this.#end(Buffer.concat([Buffer.from(`retry: ${notice.reconnectAfterMs}\n\n`), last.bytes]), last);
  }

  /** Ends the stream with `event: error`. */
  fail(code: ErrorCode, message: string = ERRORS[code].message): void {
    const notice: SseError = {
      code,
      message,
      ...(this.#lastEventId === undefined ? {} : { lastEventId: this.#lastEventId }),
    };
    const last = frame('error', notice);
    this.#end(last.bytes, last);
  }

  #send(live: SseFrame): void {
    if (!this.#awaitingDrain) return this.#write(live);
    this.#queue.push(live);
    this.#queuedBytes += live.bytes.length;
    if (this.#queue.length > this.#maxEvents || this.#queuedBytes > this.#maxBytes) this.#tooSlow();
  }

  #write(next: SseFrame): void {
    if (next.id !== undefined) this.#lastEventId = next.id;
    countSent(this.#metrics, next.event);
    if (!this.#res.write(next.bytes)) this.#awaitDrain();
  }

  #awaitDrain(): void {
    if (this.#awaitingDrain) return;
    this.#awaitingDrain = true;
    this.#res.once('drain', this.#onDrain);
  }

  readonly #onDrain = (): void => {
    this.#awaitingDrain = false;
    while (this.#queue.length > 0 && !this.#awaitingDrain && this.#phase !== 'closed') {
      const next = this.#queue.shift() as SseFrame;
      this.#queuedBytes -= next.bytes.length;
      this.#write(next);
    }
    if (!this.#awaitingDrain) this.#wakeWriters();
  };

  #tooSlow(): void {
    this.#metrics.slowConsumerCloses.inc();
    this.fail('SLOW_CONSUMER');
  }

  /** Writes the last bytes (past the bounds: one small frame) and ends; a client that never reads is cut off. */
  #end(bytes: Buffer, last: SseFrame): void {
    if (this.#phase === 'closed') return;
    this.#release();
    countSent(this.#metrics, last.event);
    const timer = setTimeout(() => this.#res.destroy(), CLOSE_GRACE_MS);
    timer.unref();
    this.#res.once('close', () => clearTimeout(timer));
    this.#res.end(bytes);
    this.#onClose(this);
  }

  /** The client went away (or the socket was destroyed). */
  #closed(): void {
    if (this.#phase === 'closed') return;
    this.#release();
    this.#onClose(this);
  }

  #release(): void {
    this.#phase = 'closed';
    this.#held = [];
    this.#heldBytes = 0;
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#res.off('drain', this.#onDrain);
    this.#wakeWriters();
  }

  #wakeWriters(): void {
    const waiters = this.#writableWaiters;
    this.#writableWaiters = [];
    for (const wake of waiters) wake();
  }
}
