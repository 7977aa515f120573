import type { LatencySummary } from '../harness/latency.js';

/** What a load generator reports for one measured window. */
export interface WindowResult {
  durationMs: number;
  /** Operations completed in the window: deliveries, round trips or handshakes, as the workload counts them. */
  operations: number;
  /** Messages the sender sent in the window (fan-out), else equal to the operations started. */
  sent: number;
  /** Latency of the window; in multi-node fan-out, of deliveries on the sender's node only. */
  latency: LatencySummary | undefined;
  /** Multi-node fan-out: latency of deliveries on the other nodes. */
  remoteLatency?: LatencySummary | undefined;
  /** The load generator's own CPU in the window, as a fraction of one core. */
  loadCpu: number;
  errors: number;
  firstError: string | undefined;
}

/** A running load: the orchestrator opens and closes measured windows on it, then stops it. */
export interface Workload {
  beginWindow(): void;
  endWindow(): WindowResult;
  /** Stops sending and waits (bounded) for what is in flight, so the next phase starts clean. */
  stop(): Promise<void>;
}
