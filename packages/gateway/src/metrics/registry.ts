import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ErrorCode } from '@switchyard/protocol';

/*
 * One registry per gateway instance (never prom-client's global one), so several gateways can
 * live in one process — tests, benchmarks — without "metric already registered" clashes.
 * Label values are bounded: event names come from the protocol (unknown ones are "unknown"),
 * codes from the error table, transports from engine.io.
 */

export interface GatewayMetrics {
  readonly registry: Registry;
  readonly eventsIn: Counter<'event'>;
  /** A broadcast counts once, however many sockets it reaches. */
  readonly eventsOut: Counter<'event'>;
  readonly rejected: Counter<'event' | 'code'>;
  readonly connectionsRefused: Counter<'code'>;
  readonly ackLatency: Histogram<'event'>;
  /** Hooks the gauge of connections, computed at scrape time. */
  observeConnections(count: () => Map<string, number>): void;
}

export const METRIC_NAMES = {
  connections: 'switchyard_connections',
  eventsIn: 'switchyard_events_in_total',
  eventsOut: 'switchyard_events_out_total',
  rejected: 'switchyard_events_rejected_total',
  connectionsRefused: 'switchyard_connections_refused_total',
  ackLatency: 'switchyard_ack_latency_seconds',
  /** Registered by the presence plugin. */
  rooms: 'switchyard_rooms',
  /** Registered by the presence plugin. */
  largeRooms: 'switchyard_rooms_large',
  /** Registered by the socket plugin's outgoing bounds. */
  slowConsumerCloses: 'switchyard_slow_consumer_closes_total',
  /** Registered by the socket plugin's outgoing bounds. */
  queuedBytes: 'switchyard_socket_queued_bytes',
} as const;

export function createGatewayMetrics(): GatewayMetrics {
  const registry = new Registry();
  // prom-client's process and Node.js metrics (heap, event loop lag, GC, open file descriptors...).
  collectDefaultMetrics({ register: registry });
  let countConnections: () => Map<string, number> = () => new Map();

  new Gauge({
    name: METRIC_NAMES.connections,
    help: 'Connected sockets on this node, by engine.io transport',
    labelNames: ['transport'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [transport, count] of countConnections()) this.set({ transport }, count);
    },
  });

  return {
    registry,
    eventsIn: new Counter({
      name: METRIC_NAMES.eventsIn,
      help: 'Inbound socket events, by name',
      labelNames: ['event'],
      registers: [registry],
    }),
    eventsOut: new Counter({
      name: METRIC_NAMES.eventsOut,
      help: 'Socket events emitted by this node, by name',
      labelNames: ['event'],
      registers: [registry],
    }),
    rejected: new Counter({
      name: METRIC_NAMES.rejected,
      help: 'Inbound socket events refused, by event and error code',
      labelNames: ['event', 'code'],
      registers: [registry],
    }),
    connectionsRefused: new Counter({
      name: METRIC_NAMES.connectionsRefused,
      help: 'Socket connections refused at connect, by error code',
      labelNames: ['code'],
      registers: [registry],
    }),
    ackLatency: new Histogram({
      name: METRIC_NAMES.ackLatency,
      help: 'Time from receiving an event to calling its ack, by event',
      labelNames: ['event'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    observeConnections(count) {
      countConnections = count;
    },
  };
}

/** Typed helper so call sites cannot pass a code outside the error table. */
export function countRejection(metrics: GatewayMetrics, event: string, code: ErrorCode): void {
  metrics.rejected.inc({ event, code });
}
