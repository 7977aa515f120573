import { Counter, Gauge } from 'prom-client';
import type { ErrorCode, SseEventName } from '@switchyard/protocol';
import type { GatewayMetrics } from '../metrics/registry.js';

export interface SseMetrics {
  /** Frames written to streams, by event name: a broadcast to 100 streams counts 100. */
  readonly eventsSent: Counter<'event'>;
  readonly slowConsumerCloses: Counter;
  readonly refused: Counter<'code'>;
  observe(source: { size: number; bufferedBytes(): number }): void;
}

export const SSE_METRIC_NAMES = {
  streams: 'switchyard_sse_streams',
  bufferedBytes: 'switchyard_sse_buffered_bytes',
  eventsSent: 'switchyard_sse_events_sent_total',
  slowConsumerCloses: 'switchyard_sse_slow_consumer_closes_total',
  refused: 'switchyard_sse_streams_refused_total',
} as const;

/** SSE instruments, on the gateway's own registry. */
export function createSseMetrics({ registry }: GatewayMetrics): SseMetrics {
  let source: { size: number; bufferedBytes(): number } = { size: 0, bufferedBytes: () => 0 };
  new Gauge({
    name: SSE_METRIC_NAMES.streams,
    help: 'Open SSE streams on this node',
    registers: [registry],
    collect() {
      this.set(source.size);
    },
  });
  new Gauge({
    name: SSE_METRIC_NAMES.bufferedBytes,
    help: 'Bytes waiting in SSE stream buffers on this node (queued by the gateway and in Node write buffers)',
    registers: [registry],
    collect() {
      this.set(source.bufferedBytes());
    },
  });
  return {
    eventsSent: new Counter({
      name: SSE_METRIC_NAMES.eventsSent,
      help: 'Events written to SSE streams, by name',
      labelNames: ['event'],
      registers: [registry],
    }),
    slowConsumerCloses: new Counter({
      name: SSE_METRIC_NAMES.slowConsumerCloses,
      help: 'SSE streams closed because the client fell too far behind',
      registers: [registry],
    }),
    refused: new Counter({
      name: SSE_METRIC_NAMES.refused,
      help: 'SSE streams refused, by error code',
      labelNames: ['code'],
      registers: [registry],
    }),
    observe(next) {
      source = next;
    },
  };
}

export function countSent(metrics: SseMetrics, event: SseEventName): void {
  metrics.eventsSent.inc({ event });
}

export function countRefused(metrics: SseMetrics, code: ErrorCode): void {
  metrics.refused.inc({ code });
}
