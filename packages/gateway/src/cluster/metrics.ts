import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { type AdapterEvents, type BusHealth, NODE_STATUSES } from '@switchyard/mongo-adapter';

/*
 * The MongoDB adapter reports through events and `health()`; this maps them onto the gateway's own
 * prom-client registry. Label values are bounded: error codes come from the adapter's table, restore
 * reasons from its fixed list.
 */

export const ADAPTER_METRIC_NAMES = {
  ready: 'switchyard_adapter_ready',
  status: 'switchyard_adapter_status',
  mongoPrimary: 'switchyard_adapter_mongo_primary',
  nodes: 'switchyard_adapter_nodes',
  publishLatency: 'switchyard_adapter_publish_latency_seconds',
  batchSize: 'switchyard_adapter_batch_docs',
  publishErrors: 'switchyard_adapter_publish_errors_total',
  rejected: 'switchyard_adapter_rejected_total',
  overflows: 'switchyard_adapter_outbox_overflows_total',
  outboxDocs: 'switchyard_adapter_outbox_docs',
  outboxBytes: 'switchyard_adapter_outbox_bytes',
  lag: 'switchyard_adapter_change_stream_lag_seconds',
  resumes: 'switchyard_adapter_resumes_total',
  gaps: 'switchyard_adapter_gaps_total',
  duplicates: 'switchyard_adapter_duplicates_dropped_total',
  restores: 'switchyard_adapter_restores_total',
  evictions: 'switchyard_adapter_nodes_evicted_total',
} as const;

export interface AdapterMetricsSource {
  events: AdapterEvents;
  /** Undefined until the adapter exists. */
  health(): BusHealth | undefined;
  /** Other nodes this one currently counts on, plus itself. */
  serverCount(): number;
}

export interface AdapterMetrics {
  /** Counts a node the cluster stopped waiting for. */
  nodeEvicted(): void;
}

export function bridgeAdapterMetrics(registry: Registry, source: AdapterMetricsSource): AdapterMetrics {
  const registers = [registry];
  new Gauge({
    name: ADAPTER_METRIC_NAMES.ready,
    help: '1 when this node takes traffic: it hears its own heartbeat through its change stream, or MongoDB is electing a primary',
    registers,
    collect() {
      this.set(source.health()?.ready === true ? 1 : 0);
    },
  });
  new Gauge({
    name: ADAPTER_METRIC_NAMES.status,
    help: "1 for this node's current readiness status (ready, waiting-for-primary, deaf, unreachable, no-primary, starting, closed)",
    labelNames: ['status'],
    registers,
    collect() {
      const current = source.health()?.status;
      for (const status of NODE_STATUSES) this.set({ status }, status === current ? 1 : 0);
    },
  });
  new Gauge({
    name: ADAPTER_METRIC_NAMES.mongoPrimary,
    help: "1 while this node's MongoDB driver knows a primary (0 during an election or when MongoDB is unreachable)",
    registers,
    collect() {
      this.set(source.health()?.mongo === 'primary' ? 1 : 0);
    },
  });
  new Gauge({
    name: ADAPTER_METRIC_NAMES.nodes,
    help: 'Gateway nodes in the cluster as this node sees them (itself included)',
    registers,
    collect() {
      this.set(source.serverCount());
    },
  });
  new Gauge({
    name: ADAPTER_METRIC_NAMES.outboxDocs,
    help: 'Messages waiting in the outbox to be written to MongoDB',
    registers,
    collect() {
      this.set(source.health()?.outbox.docs ?? 0);
    },
  });
  new Gauge({
    name: ADAPTER_METRIC_NAMES.outboxBytes,
    help: 'Bytes waiting in the outbox to be written to MongoDB',
    registers,
    collect() {
      this.set(source.health()?.outbox.bytes ?? 0);
    },
  });
  const publishLatency = new Histogram({
    name: ADAPTER_METRIC_NAMES.publishLatency,
    help: 'Time to write one outbox batch with the write concern',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers,
  });
  const batchSize = new Histogram({
    name: ADAPTER_METRIC_NAMES.batchSize,
    help: 'Messages per outbox batch (one insertMany)',
    buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000],
    registers,
  });
  const publishErrors = new Counter({
    name: ADAPTER_METRIC_NAMES.publishErrors,
    help: 'Failed outbox batch writes (retried or rejected)',
    registers,
  });
  const rejected = new Counter({
    name: ADAPTER_METRIC_NAMES.rejected,
    help: 'Messages refused before being written, by code',
    labelNames: ['code'],
    registers,
  });
  const overflows = new Counter({
    name: ADAPTER_METRIC_NAMES.overflows,
    help: 'Publishes refused because the outbox was full',
    registers,
  });
  const lag = new Histogram({
    name: ADAPTER_METRIC_NAMES.lag,
    help: 'Time from the MongoDB write of a message to its dispatch on this node',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers,
  });
  const resumes = new Counter({
    name: ADAPTER_METRIC_NAMES.resumes,
    help: 'Change stream reopenings after an error',
    registers,
  });
  const gaps = new Counter({
    name: ADAPTER_METRIC_NAMES.gaps,
    help: 'Change stream history losses (messages may be missing)',
    registers,
  });
  const duplicates = new Counter({
    name: ADAPTER_METRIC_NAMES.duplicates,
    help: 'Messages seen twice and dropped',
    registers,
  });
  const restores = new Counter({
    name: ADAPTER_METRIC_NAMES.restores,
    help: 'Connection state recovery attempts, by outcome',
    labelNames: ['ok', 'reason'],
    registers,
  });
  const evictions = new Counter({
    name: ADAPTER_METRIC_NAMES.evictions,
    help: 'Nodes this node stopped counting on (heartbeat timeout or announced close)',
    registers,
  });

  const { events } = source;
  events.on('publish', ({ docs, latencyMs }) => {
    publishLatency.observe(latencyMs / 1000);
    batchSize.observe(docs);
  });
  events.on('publish-error', () => publishErrors.inc());
  events.on('rejected', ({ code }) => rejected.inc({ code }));
  events.on('overflow', () => overflows.inc());
  events.on('lag', ({ ms }) => lag.observe(Math.max(0, ms) / 1000));
  events.on('resume', () => resumes.inc());
  events.on('gap', () => gaps.inc());
  events.on('duplicate', () => duplicates.inc());
  events.on('restore', ({ ok, reason }) => restores.inc({ ok: String(ok), reason }));

  return { nodeEvicted: () => evictions.inc() };
}
