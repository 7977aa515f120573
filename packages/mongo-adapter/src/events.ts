import { EventEmitter } from 'node:events';
import type { FeedState, GapInfo } from './change-feed.js';
import type { NodeStatus } from './membership.js';
import type { MongoView } from './topology.js';

/**
 * Everything the adapter reports, for logs and for the gateway's Prometheus metrics. Every payload names
 * the node (`node`) it comes from, as one process may run several servers in tests.
 */
export interface AdapterEventMap {
  /** A batch was written (insertMany with the write concern). */
  publish: { node: string; docs: number; bytes: number; latencyMs: number; attempts: number };
  /** A batch failed; `willRetry` false means its messages were rejected. */
  'publish-error': {
    node: string;
    docs: number;
    attempt: number;
    code: number | undefined;
    message: string;
    willRetry: boolean;
  };
  /** A message was refused before anything was written (PAYLOAD_TOO_LARGE, OUTBOX_OVERFLOW, ADAPTER_CLOSED). */
  rejected: { node: string; code: string; nsp: string; type: number; bytes: number };
  /** The outbox was full; the publish that did not fit was refused. */
  overflow: { node: string; queuedDocs: number; queuedBytes: number; rejectedBytes: number };
  /** Outbox depth after each batch. */
  outbox: { node: string; queuedDocs: number; queuedBytes: number };
  /** ms between the write of the newest event of a batch (server time) and its dispatch here. */
  lag: { node: string; ms: number };
  /** The change stream failed and will be reopened after `delayMs` from the last resume token. */
  resume: { node: string; attempt: number; delayMs: number; code: number | undefined; message: string };
  /** History was lost: messages written between `from` and `to` may never reach this node. */
  gap: { node: string } & GapInfo;
  /** A message seen twice (after a resume or a retried write) was dropped. */
  duplicate: { node: string; origin: string; seq: number };
  /** Status (and so readiness) changes, and change stream state changes. See `health()`. */
  state: { node: string; changeStream: FeedState; ready: boolean; status: NodeStatus; mongo: MongoView };
  /** A recovery session restore finished. */
  restore: { node: string; nsp: string; ok: boolean; reason: string; missedPackets: number };
  /**
   * Another node (`uid`) stopped being counted on by this node's adapter of namespace `nsp`: it announced
   * it (`closed`: ADAPTER_CLOSE on shutdown, or it went deaf) or sent nothing for `heartbeatTimeout`
   * (`timeout`). Emitted once per namespace adapter and departure.
   */
  'node-left': { node: string; nsp: string; uid: string; reason: 'closed' | 'timeout' };
}

export type AdapterEventName = keyof AdapterEventMap;

/** A small typed wrapper; 'error' is never emitted, so an unobserved emitter can never throw. */
export class AdapterEvents {
  private readonly emitter = new EventEmitter();

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  on<E extends AdapterEventName>(event: E, listener: (payload: AdapterEventMap[E]) => void): this {
    this.emitter.on(event, listener);
    return this;
  }

  off<E extends AdapterEventName>(event: E, listener: (payload: AdapterEventMap[E]) => void): this {
    this.emitter.off(event, listener);
    return this;
  }

  once<E extends AdapterEventName>(event: E, listener: (payload: AdapterEventMap[E]) => void): this {
    this.emitter.once(event, listener);
    return this;
  }

  emit<E extends AdapterEventName>(event: E, payload: AdapterEventMap[E]): void {
    if (this.emitter.listenerCount(event) === 0) return;
    try {
      this.emitter.emit(event, payload);
    } catch {
      // A throwing metrics listener must not break message delivery.
    }
  }
}
