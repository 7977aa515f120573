import type { Collection, Document } from 'mongodb';
import { ChangeFeed, type ChangeFeedHooks, type FeedState } from './change-feed.js';
import { documentBytes, feedPipeline, skipDocument, type MessageDocument } from './document.js';
import { MongoAdapterError } from './errors.js';
import type { BoundLogger } from './logging.js';
import type { ResolvedOptions } from './options.js';
import { Outbox, type OutboxHooks } from './outbox.js';
import { Numbering } from './sequencing.js';

export type TransportHooks = Omit<ChangeFeedHooks, 'trace'> &
  Pick<OutboxHooks, 'onBatchWritten' | 'onBatchFailed' | 'onOverflow' | 'onDepth'>;

/** Why a document was refused before anything was written. */
export interface Refusal {
  error: MongoAdapterError;
  bytes: number;
}

/**
 * MongoDB, both ways, for one node: the outbox (ordered, numbered, batched writes, several in flight) and
 * the change feed (one stream, resumed after any error). Documents are numbered per channel here, when the
 * outbox accepts them, and stamped with their `low` mark when sent.
 */
export class Transport {
  private readonly outbox: Outbox;
  private readonly feed: ChangeFeed;
  private readonly numbering = new Numbering();

  constructor(
    collection: Collection<Document>,
    readonly uid: string,
    private readonly options: ResolvedOptions,
    hooks: TransportHooks,
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
   * Queues a document. Returns a refusal (nothing written, nothing numbered) when it cannot be stored;
   * otherwise numbers it (calling `numbered` synchronously) and resolves once written with the write
   * concern, or rejects with a coded error (OUTBOX_OVERFLOW, ADAPTER_CLOSED, PUBLISH_FAILED).
   */
  publish(doc: MessageDocument, numbered?: (doc: MessageDocument) => void): Refusal | Promise<void> {
    let bytes: number;
    try {
      bytes = documentBytes(doc);
    } catch (error) {
      return {
        error: new MongoAdapterError(
          'PUBLISH_FAILED',
          `The message cannot be stored as BSON: ${(error as Error).message}`,
          { cause: error },
        ),
        bytes: 0,
      };
    }
    if (bytes > this.options.maxDocumentBytes) {
      return {
        error: new MongoAdapterError(
          'PAYLOAD_TOO_LARGE',
          `The message is ${bytes} bytes; at most ${this.options.maxDocumentBytes} fit in one change event`,
        ),
        bytes,
      };
    }
    return this.outbox.enqueue(doc, bytes, () => {
      doc.seq = this.numbering.assign(doc.to);
      numbered?.(doc);
    });
  }

  /** Waits for the outbox (bounded), then stops writing and reading. */
  async close(timeoutMs: number): Promise<void> {
    await this.outbox.drain(timeoutMs);
    this.outbox.close();
    await this.feed.close();
  }
}
