import type { Collection, Document, WriteConcernSettings } from 'mongodb';
import { backoffDelay, type BackoffOptions } from './backoff.js';
import { errorFacts, isPermanentDocumentError, MongoAdapterError } from './errors.js';

export interface OutboxOptions {
  /** Coalescing window; 0 = everything published in the same event-loop turn goes in one insertMany. */
  batchWindowMs: number;
  maxBatchDocs: number;
  maxBatchBytes: number;
  /** Bounds of what may wait while MongoDB is unavailable. */
  maxQueuedDocs: number;
  maxQueuedBytes: number;
  writeConcern: WriteConcernSettings;
  backoff: BackoffOptions;
  /** true: retry transient failures until written (nodes). false: reject the batch on the first failure (emitters). */
  retryForever: boolean;
  /**
   * An insertMany that has not settled after this long is treated as failed with an unknown outcome and
   * retried (a hung connection must not stall every publish of the process; duplicates are dropped).
   */
  operationTimeoutMs: number;
}

export interface OutboxHooks {
  onBatchWritten(info: { docs: number; bytes: number; latencyMs: number; attempts: number }): void;
  onBatchFailed(info: {
    docs: number;
    attempt: number;
    code: number | undefined;
    message: string;
    willRetry: boolean;
  }): void;
  onOverflow(info: { queuedDocs: number; queuedBytes: number; rejectedBytes: number }): void;
  onDepth(info: { queuedDocs: number; queuedBytes: number }): void;
}

interface Entry {
  doc: Document;
  bytes: number;
  resolve: () => void;
  reject: (error: Error) => void;
}

/**
 * The one ordered queue between a process and MongoDB. Documents are written in the order they were
 * enqueued, by a single `insertMany({ ordered: true })` in flight at a time (a second concurrent insert could
 * be applied first and reorder the stream). Whatever arrives while a batch is in flight forms the next
 * batch, so batches grow with load. A failed batch is retried from its first unwritten document; receivers
 * drop the duplicates a retry may create (they carry `origin` + `seq`).
 */
export class Outbox {
  private queue: Entry[] = [];
  private queuedBytes = 0;
  private inFlight = false;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private attempt = 0;
  private gated: boolean;
  private closed = false;
  private drainWaiters: Array<() => void> = [];

  constructor(
    private readonly collection: Collection<Document>,
    private readonly options: OutboxOptions,
    private readonly hooks: OutboxHooks,
    { startGated = false }: { startGated?: boolean } = {},
  ) {
    this.gated = startGated;
  }

  get depth(): { docs: number; bytes: number } {
    return { docs: this.queue.length, bytes: this.queuedBytes };
  }

  /**
   * Queues one document. Resolves once it is written with the configured write concern; rejects with
   * OUTBOX_OVERFLOW (nothing queued), ADAPTER_CLOSED, or PUBLISH_FAILED (MongoDB rejected this document).
   * `accept` runs synchronously only if the document is queued: the caller assigns its sequence number there,
   * so a refused document never leaves a hole in the origin's sequence.
   */
  enqueue(doc: Document, bytes: number, accept?: () => void): Promise<void> {
    if (this.closed) return Promise.reject(new MongoAdapterError('ADAPTER_CLOSED'));
    if (this.queue.length >= this.options.maxQueuedDocs || this.queuedBytes + bytes > this.options.maxQueuedBytes) {
      this.hooks.onOverflow({ queuedDocs: this.queue.length, queuedBytes: this.queuedBytes, rejectedBytes: bytes });
      return Promise.reject(
        new MongoAdapterError(
          'OUTBOX_OVERFLOW',
          `The outbox holds ${this.queue.length} messages (${this.queuedBytes} bytes); not queued`,
        ),
      );
    }
    accept?.();
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ doc, bytes, resolve, reject });
      this.queuedBytes += bytes;
      this.schedule();
    });
  }

  /** Lets writes start (nodes hold their first writes until their change stream is open). */
  open(): void {
    this.gated = false;
    this.schedule();
  }

  /** Waits until everything queued is written, or the deadline passes. */
  async drain(timeoutMs: number): Promise<boolean> {
    if (this.queue.length === 0 && !this.inFlight) return true;
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.drainWaiters = this.drainWaiters.filter((w) => w !== done);
        resolve(false);
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.drainWaiters.push(done);
    });
  }

  /** Rejects everything still queued with ADAPTER_CLOSED. */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const pending = this.inFlight ? [] : this.queue.splice(0);
    this.queuedBytes = this.queue.reduce((sum, e) => sum + e.bytes, 0);
    for (const entry of pending) entry.reject(new MongoAdapterError('ADAPTER_CLOSED'));
    this.notifyDrained();
  }

  private schedule(): void {
    if (
      this.gated ||
      this.inFlight ||
      this.timer ||
      this.immediate ||
      this.retryTimer ||
      this.queue.length === 0 ||
      this.closed
    )
      return;
    const run = () => {
      this.timer = undefined;
      this.immediate = undefined;
      void this.flush();
    };
    if (this.options.batchWindowMs > 0) this.timer = setTimeout(run, this.options.batchWindowMs);
    else this.immediate = setImmediate(run);
  }

  private takeBatch(): Entry[] {
    let bytes = 0;
    let count = 0;
    for (const entry of this.queue) {
      if (count >= this.options.maxBatchDocs || (count > 0 && bytes + entry.bytes > this.options.maxBatchBytes)) break;
      bytes += entry.bytes;
      count++;
    }
    return this.queue.slice(0, count);
  }

  private async flush(): Promise<void> {
    if (this.inFlight || this.gated || this.queue.length === 0) return;
    this.inFlight = true;
    const batch = this.takeBatch();
    const bytes = batch.reduce((sum, e) => sum + e.bytes, 0);
    const started = performance.now();
    // A retry sends fresh copies: the driver adds `_id` to what it inserts, and re-sending the same `_id`
    // would fail as a duplicate key. Duplicates are dropped by receivers through `origin` + `seq`.
    const docs = batch.map((e) => ({ ...e.doc }));
    let written = 0;
    let failure: unknown;
    let watchdog: NodeJS.Timeout | undefined;
    try {
      const insert = this.collection.insertMany(docs, { ordered: true, writeConcern: this.options.writeConcern });
      const timeout = new Promise<never>((_, reject) => {
        watchdog = setTimeout(
          () =>
            reject(
              Object.assign(new Error(`insertMany did not settle within ${this.options.operationTimeoutMs} ms`), {
                code: undefined,
              }),
            ),
          this.options.operationTimeoutMs,
        );
      });
      insert.catch(() => undefined); // an abandoned insert may still fail later; it was already retried
      await Promise.race([insert, timeout]);
      written = batch.length;
    } catch (error) {
      failure = error;
      written = writtenBefore(error, batch.length);
    } finally {
      clearTimeout(watchdog);
    }
    this.inFlight = false;
    if (written > 0) this.settle(batch.slice(0, written));
    if (failure === undefined) {
      this.hooks.onBatchWritten({
        docs: written,
        bytes,
        latencyMs: performance.now() - started,
        attempts: this.attempt + 1,
      });
      this.attempt = 0;
    } else {
      this.handleFailure(failure, batch.slice(written));
    }
    this.hooks.onDepth({ queuedDocs: this.queue.length, queuedBytes: this.queuedBytes });
    if (this.closed) {
      for (const entry of this.queue.splice(0)) entry.reject(new MongoAdapterError('ADAPTER_CLOSED'));
      this.queuedBytes = 0;
    }
    if (this.queue.length === 0) this.notifyDrained();
    this.schedule();
  }

  private settle(entries: Entry[]): void {
    this.queue.splice(0, entries.length);
    for (const entry of entries) {
      this.queuedBytes -= entry.bytes;
      entry.resolve();
    }
  }

  private handleFailure(error: unknown, unwritten: Entry[]): void {
    const facts = errorFacts(error);
    const first = unwritten[0];
    const firstErrorCode = firstWriteErrorCode(error);
    if (first && isPermanentDocumentError(firstErrorCode)) {
      // This document can never be written; drop it alone and carry on with the rest immediately.
      this.settleRejected(
        first,
        new MongoAdapterError('PUBLISH_FAILED', `MongoDB rejected the message: ${facts.message}`, { cause: error }),
      );
      this.hooks.onBatchFailed({
        docs: 1,
        attempt: this.attempt,
        code: firstErrorCode,
        message: facts.message,
        willRetry: false,
      });
      return;
    }
    if (!this.options.retryForever) {
      for (const entry of unwritten) {
        this.settleRejected(
          entry,
          new MongoAdapterError('PUBLISH_FAILED', `MongoDB did not accept the message: ${facts.message}`, {
            cause: error,
          }),
        );
      }
      this.hooks.onBatchFailed({
        docs: unwritten.length,
        attempt: this.attempt,
        code: facts.code,
        message: facts.message,
        willRetry: false,
      });
      return;
    }
    this.hooks.onBatchFailed({
      docs: unwritten.length,
      attempt: this.attempt,
      code: facts.code,
      message: facts.message,
      willRetry: true,
    });
    const delay = backoffDelay(this.options.backoff, this.attempt++);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.schedule();
    }, delay);
  }

  private settleRejected(entry: Entry, error: Error): void {
    const index = this.queue.indexOf(entry);
    if (index >= 0) this.queue.splice(index, 1);
    this.queuedBytes -= entry.bytes;
    entry.reject(error);
  }

  private notifyDrained(): void {
    if (this.queue.length > 0 || this.inFlight) return;
    for (const waiter of this.drainWaiters.splice(0)) waiter();
  }
}

/** How many leading documents of an ordered insertMany are known to be written, from the error's own fields. */
function writtenBefore(error: unknown, batchLength: number): number {
  const e = error as { writeErrors?: unknown; insertedCount?: unknown; result?: { insertedCount?: unknown } };
  const writeErrors = Array.isArray(e.writeErrors) ? e.writeErrors : e.writeErrors ? [e.writeErrors] : [];
  const indexes = writeErrors
    .map(
      (w) =>
        (w as { index?: unknown; err?: { index?: unknown } }).index ?? (w as { err?: { index?: unknown } }).err?.index,
    )
    .filter((i): i is number => typeof i === 'number');
  if (indexes.length > 0) return Math.min(Math.min(...indexes), batchLength);
  return 0;
}

function firstWriteErrorCode(error: unknown): number | undefined {
  const e = error as { writeErrors?: unknown };
  const writeErrors = Array.isArray(e.writeErrors) ? e.writeErrors : e.writeErrors ? [e.writeErrors] : [];
  if (writeErrors.length === 0) return undefined;
  const sorted = [...writeErrors].sort(
    (a, b) => ((a as { index?: number }).index ?? 0) - ((b as { index?: number }).index ?? 0),
  );
  const code = (sorted[0] as { code?: unknown }).code;
  return typeof code === 'number' ? code : undefined;
}
