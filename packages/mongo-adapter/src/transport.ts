import type { Collection, Document } from 'mongodb';
import { ChangeFeed, type ChangeFeedHooks, type FeedState } from './change-feed.js';
import { documentBytes, feedPipeline, skipDocument, type MessageDocument } from './document.js';
import { MongoAdapterError } from './errors.js';
import type { BoundLogger } from './logging.js';
import type { ResolvedOptions } from './options.js';
import { Outbox, type OutboxHooks } from './outbox.js';
import { Numbering } from './sequencing.js';

export type TransportHooks = Omit<ChangeFeedHooks, 'trace' | 'restarting'> &
  Pick<OutboxHooks, 'onBatchWritten' | 'onBatchFailed' | 'onOverflow' | 'onDepth'> & {
    /** A message will never be written: refused before (`early`) or by MongoDB / the closing outbox. */
    onRejected(info: { code: string; nsp: string; type: number; bytes: number; early: boolean }): void;
  };

/** Called with the token of this node's own copy coming back through the stream, or `undefined` if it cannot. */
export type EchoWaiter = (token: string | undefined) => void;

/**
 * MongoDB, both ways, for one node: the outbox (ordered, numbered, batched writes, several in flight) and
 * the change feed (one stream, resumed after any error). Documents are numbered per channel here, when the
 * outbox accepts them, and stamped with their `low` mark when sent; a publisher that wants its own copy
 * back (`echo`) gets it through `takeEcho` when the bus applies that event.
 */
export class Transport {
  private readonly outbox: Outbox;
  private readonly feed: ChangeFeed;
  private readonly numbering = new Numbering();
  private readonly echoWaiters = new Map<string, EchoWaiter>();
  private closed = false;

  constructor(
    collection: Collection<Document>,
    readonly uid: string,
    private readonly options: ResolvedOptions,
    private readonly hooks: TransportHooks,
    log: { outbox: BoundLogger; feed: BoundLogger },
  ) {
    this.outbox = new Outbox(
      collection,
      {
        batchWindowMs: options.batchWindowMs,
        maxBatchDocs: options.maxBatchDocs,
        maxBatchBytes: options.maxBatchBytes,
        maxInFlight: options.maxBatchesInFlight,
        maxQueuedDocs: options.outboxMaxDocs,
        maxQueuedBytes: options.outboxMaxBytes,
        writeConcern: options.writeConcern,
        operationTimeoutMs: options.operationTimeoutMs,
        backoff: options.backoff,
        retryForever: true,
      },
      {
        onBatchWritten: hooks.onBatchWritten,
        onBatchFailed: hooks.onBatchFailed,
        onOverflow: hooks.onOverflow,
        onDepth: hooks.onDepth,
        beforeSend: (copy, original) => {
          const doc = original as MessageDocument;
          copy.low = this.numbering.low(doc.to);
        },
        settled: (doc, _written) => {
          const d = doc as MessageDocument;
          this.numbering.settle(d.to, d.seq);
        },
        replacementFor: (refused) => skipDocument(refused as MessageDocument),
        trace: (what, info) => {
          if (log.outbox.tracing) log.outbox.debug(info, what === 'sent' ? 'batch sent' : 'batch written');
        },
      },
      // Nothing is written before this node can hear the answers (heartbeat replies, responses).
      { startGated: true },
    );
    this.feed = new ChangeFeed(
      collection,
      {
        pipeline: feedPipeline(uid),
        changeStreamOptions: options.changeStreamOptions,
        maxAwaitTimeMS: options.maxAwaitTimeMS,
        backoff: options.backoff,
        stallTimeoutMs: options.operationTimeoutMs,
      },
      {
        ...hooks,
        onState: (state) => {
          if (state === 'open') this.outbox.open();
          hooks.onState(state);
        },
        trace: (info) => {
          if (log.feed.tracing) log.feed.debug(info, 'events received');
        },
        restarting: ({ from }) =>
          log.feed.warn(
            { startAtOperationTime: from ?? null },
            from
              ? 'history lost: reopening from the oldest point the server still has'
              : 'history lost: reopening from now',
          ),
      },
    );
  }

  start(): void {
    this.feed.start();
  }

  get feedState(): FeedState {
    return this.feed.state;
  }

  get depth(): { docs: number; bytes: number } {
    return this.outbox.depth;
  }

  /**
   * Queues a document. Resolves once written with the write concern; rejects with a coded error:
   * PAYLOAD_TOO_LARGE / PUBLISH_FAILED (cannot be stored) and ADAPTER_CLOSED / OUTBOX_OVERFLOW before
   * anything is numbered or written, PUBLISH_FAILED if MongoDB refuses it for good. Never throws.
   */
  publish(doc: MessageDocument, onEcho?: EchoWaiter): Promise<void> {
    if (this.closed) return this.refuse(doc, new MongoAdapterError('ADAPTER_CLOSED'), 0, onEcho);
    let bytes: number;
    try {
      bytes = documentBytes(doc);
    } catch (error) {
      const reason = `The message cannot be stored as BSON: ${(error as Error).message}`;
      return this.refuse(doc, new MongoAdapterError('PUBLISH_FAILED', reason, { cause: error }), 0, onEcho);
    }
    if (bytes > this.options.maxDocumentBytes) {
      const reason = `The message is ${bytes} bytes; at most ${this.options.maxDocumentBytes} fit in one change event`;
      return this.refuse(doc, new MongoAdapterError('PAYLOAD_TOO_LARGE', reason), bytes, onEcho);
    }
    const written = this.outbox.enqueue(doc, bytes, () => {
      doc.seq = this.numbering.assign(doc.to);
      if (onEcho) this.echoWaiters.set(echoKey(doc.to, doc.seq), onEcho);
    });
    written.catch((error: unknown) => {
      if (onEcho) {
        const key = echoKey(doc.to, doc.seq);
        if (doc.seq === 0) onEcho(undefined);
        else if (this.echoWaiters.get(key) === onEcho) {
          this.echoWaiters.delete(key);
          onEcho(undefined);
        }
      }
      const code = (error as { code?: unknown }).code;
      if (typeof code === 'string') this.hooks.onRejected({ code, nsp: doc.nsp, type: doc.type, bytes, early: false });
    });
    return written;
  }

  /** The waiter of this node's own document, if one waits for its echo (called once, in stream order). */
  takeEcho(doc: MessageDocument): EchoWaiter | undefined {
    const key = echoKey(doc.to, doc.seq);
    const waiter = this.echoWaiters.get(key);
    if (waiter) this.echoWaiters.delete(key);
    return waiter;
  }

  /** History was lost, or the node closes: what waits for an echo will not get one. */
  releaseEchoes(): EchoWaiter[] {
    const waiters = [...this.echoWaiters.values()];
    this.echoWaiters.clear();
    return waiters;
  }

  private refuse(doc: MessageDocument, error: MongoAdapterError, bytes: number, onEcho?: EchoWaiter): Promise<void> {
    this.hooks.onRejected({ code: error.code, nsp: doc.nsp, type: doc.type, bytes, early: true });
    onEcho?.(undefined);
    return Promise.reject(error);
  }

  /** Waits for the outbox (bounded), then stops writing and reading. */
  async close(timeoutMs: number): Promise<void> {
    this.closed = true;
    await this.outbox.drain(timeoutMs);
    this.outbox.close();
    await this.feed.close();
  }
}

function echoKey(to: string, seq: number): string {
  return `${to}\u0000${seq}`;
}
