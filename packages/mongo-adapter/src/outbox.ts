import type { Collection, Document, WriteConcernSettings } from 'mongodb';
import { backoffDelay, type BackoffOptions } from './backoff.js';
import { errorFacts, isPermanentDocumentError, MongoAdapterError } from './errors.js';

export interface OutboxOptions {
  /** Coalescing window; 0 = everything published before the current microtasks ran goes in one insertMany. */
  batchWindowMs: number;
  maxBatchDocs: number;
  maxBatchBytes: number;
  /** insertMany calls in flight at once. */
  maxInFlight: number;
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
  /** Stamps the copy of a document about to be sent (its `low` mark is only known now). */
  beforeSend(copy: Document, original: Document): void;
  /** The document is in MongoDB, or will never be (`written` false): either way the origin is done with it. */
  settled(doc: Document, written: boolean): void;
  /**
   * MongoDB refused this document for good. Returns what to write in its place so receivers waiting for
   * its sequence number move on (a skip record), or undefined to write nothing.
   */
  replacementFor(refused: Document): Document | undefined;
  trace?(what: 'sent' | 'written', info: { docs: number; inFlight: number }): void;
}

interface Entry {
  doc: Document;
  bytes: number;
  /** Resolves the publisher's promise; undefined once settled (a skip record replacing a refused one has none). */
  resolve: (() => void) | undefined;
  reject: ((error: Error) => void) | undefined;
  sending: boolean;
  /** Written or given up: removed from the queue once everything before it is done too. */
  done: boolean;
}

/**
 * The ordered queue between a process and MongoDB. Documents are sent in the order they were enqueued,
 * by up to `maxInFlight` ordered insertMany batches at once: whatever arrives while batches are in flight
 * joins the next one, so batches grow with load instead of waiting a round trip each. MongoDB may apply
 * two batches in flight in either order, and a failed batch is retried after later ones succeeded:
 * receivers restore each origin's order from sequence numbers (see `sequencing.ts`).
 *
 * A batch is started in a microtask, not a later event-loop turn: the caller's own local fan-out is
 * scheduled after it, so the write is on the wire before the node spends time on its own sockets.
 */
export class Outbox {
  /** In enqueue order, from `head`; done entries in the middle wait for the ones before them. */
  private queue: Entry[] = [];
  private head = 0;
  /** Entries not done. */
  private pending = 0;
  private queuedBytes = 0;
  /** Entries queued and not in a batch in flight. */
  private unsent = 0;
  private inFlight = 0;
  private scheduled = false;
  private timer: NodeJS.Timeout | undefined;
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
    return { docs: this.pending, bytes: this.queuedBytes };
  }

  /**
   * Queues one document. Resolves once it is written with the configured write concern; rejects with
   * OUTBOX_OVERFLOW (nothing queued), ADAPTER_CLOSED, or PUBLISH_FAILED (MongoDB rejected this document).
   * `accept` runs synchronously only if the document is queued: the caller numbers it there, so a refused
   * document never leaves a hole in the origin's sequence.
   */
  enqueue(doc: Document, bytes: number, accept?: () => void): Promise<void> {
    if (this.closed) return Promise.reject(new MongoAdapterError('ADAPTER_CLOSED'));
    if (this.pending >= this.options.maxQueuedDocs || this.queuedBytes + bytes > this.options.maxQueuedBytes) {
      this.hooks.onOverflow({ queuedDocs: this.pending, queuedBytes: this.queuedBytes, rejectedBytes: bytes });
      return Promise.reject(
        new MongoAdapterError(
          'OUTBOX_OVERFLOW',
          `The outbox holds ${this.pending} messages (${this.queuedBytes} bytes); not queued`,
        ),
      );
    }
    accept?.();
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ doc, bytes, resolve, reject, sending: false, done: false });
      this.queuedBytes += bytes;
      this.pending++;
      this.unsent++;
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
    if (this.pending === 0 && this.inFlight === 0) return true;
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

  /** Rejects everything not in flight with ADAPTER_CLOSED. */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.rejectUnsent();
    this.notifyDrained();
  }

  private rejectUnsent(): void {
    // A snapshot: finishing entries compacts the queue.
    for (const entry of this.queue.slice(this.head)) {
      if (!entry.sending && !entry.done) this.finish(entry, false, new MongoAdapterError('ADAPTER_CLOSED'));
    }
  }

  private schedule(): void {
    if (this.scheduled || this.timer || this.retryTimer || this.gated || this.closed) return;
    if (this.inFlight >= this.options.maxInFlight || this.unsent === 0) return;
    if (this.options.batchWindowMs > 0) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.startBatches();
      }, this.options.batchWindowMs);
      return;
    }
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.startBatches();
    });
  }

  private startBatches(): void {
    while (!this.gated && !this.closed && !this.retryTimer && this.inFlight < this.options.maxInFlight) {
      const batch = this.takeBatch();
      if (batch.length === 0) return;
      void this.send(batch);
    }
  }

  /** The first unsent entries in queue order (retried ones first: they are older), within the batch bounds. */
  private takeBatch(): Entry[] {
    const batch: Entry[] = [];
    let bytes = 0;
    for (let i = this.head; i < this.queue.length; i++) {
      const entry = this.queue[i]!;
      if (entry.sending || entry.done) continue;
      if (batch.length >= this.options.maxBatchDocs) break;
      if (batch.length > 0 && bytes + entry.bytes > this.options.maxBatchBytes) break;
      batch.push(entry);
      bytes += entry.bytes;
    }
    for (const entry of batch) entry.sending = true;
    this.unsent -= batch.length;
    return batch;
  }

  private async send(batch: Entry[]): Promise<void> {
    this.inFlight++;
    const bytes = batch.reduce((sum, e) => sum + e.bytes, 0);
    const started = performance.now();
    // Fresh copies: the driver adds `_id` to what it inserts, and re-sending the same `_id` after an unknown
    // outcome would fail as a duplicate key. Receivers drop duplicates by origin, channel and sequence.
    const docs = batch.map((e) => {
      const copy = { ...e.doc };
      this.hooks.beforeSend(copy, e.doc);
      return copy;
    });
    this.hooks.trace?.('sent', { docs: docs.length, inFlight: this.inFlight });
    let written = 0;
    let failure: unknown;
    let watchdog: NodeJS.Timeout | undefined;
    try {
      const insert = this.collection.insertMany(docs, { ordered: true, writeConcern: this.options.writeConcern });
      insert.catch(() => undefined); // an abandoned insert may still fail later; it was already retried
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
      await Promise.race([insert, timeout]);
      written = batch.length;
    } catch (error) {
      failure = error;
      written = writtenBefore(error, batch.length);
    } finally {
      clearTimeout(watchdog);
    }
    this.inFlight--;
    for (const entry of batch.slice(0, written)) this.finish(entry, true);
    if (failure === undefined) {
      this.hooks.onBatchWritten({
        docs: written,
        bytes,
        latencyMs: performance.now() - started,
        attempts: this.attempt + 1,
      });
      this.hooks.trace?.('written', { docs: written, inFlight: this.inFlight });
      this.attempt = 0;
    } else {
      this.handleFailure(failure, batch.slice(written));
    }
    this.hooks.onDepth({ queuedDocs: this.pending, queuedBytes: this.queuedBytes });
    if (this.closed) this.rejectUnsent();
    this.notifyDrained();
    this.schedule();
  }

  private handleFailure(error: unknown, unwritten: Entry[]): void {
    const facts = errorFacts(error);
    for (const entry of unwritten) entry.sending = false;
    this.unsent += unwritten.length;
    const first = unwritten[0];
    const firstErrorCode = firstWriteErrorCode(error);
    if (first && isPermanentDocumentError(firstErrorCode)) {
      // This document can never be written: refuse it alone, put a skip record in its place, carry on at once.
      this.refuse(
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
        this.finish(
          entry,
          false,
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
    if (this.retryTimer) return;
    const delay = backoffDelay(this.options.backoff, this.attempt++);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.schedule();
    }, delay);
  }

  /** Rejects a refused document and writes its replacement (a skip record) at the same place in the queue. */
  private refuse(entry: Entry, error: Error): void {
    const replacement = this.hooks.replacementFor(entry.doc);
    entry.reject?.(error);
    entry.resolve = undefined;
    entry.reject = undefined;
    if (!replacement) {
      this.finish(entry, false);
      return;
    }
    this.queuedBytes -= entry.bytes;
    entry.doc = replacement;
    entry.bytes = 256;
    this.queuedBytes += entry.bytes;
  }

  /** Marks an entry done (written or given up), settles its promise, and drops done entries at the head. */
  private finish(entry: Entry, written: boolean, error?: Error): void {
    if (entry.done) return;
    entry.done = true;
    this.pending--;
    this.queuedBytes -= entry.bytes;
    if (!entry.sending) this.unsent--;
    while (this.head < this.queue.length && this.queue[this.head]!.done) {
      this.queue[this.head] = undefined as unknown as Entry;
      this.head++;
    }
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    this.hooks.settled(entry.doc, written);
    if (written) entry.resolve?.();
    else entry.reject?.(error ?? new MongoAdapterError('PUBLISH_FAILED'));
  }

  private notifyDrained(): void {
    if (this.pending > 0 || this.inFlight > 0) return;
    for (const waiter of this.drainWaiters.splice(0)) waiter();
  }
}

/** How many leading documents of an ordered insertMany are known to be written, from the error's own fields. */
function writtenBefore(error: unknown, batchLength: number): number {
  const e = error as { writeErrors?: unknown };
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
