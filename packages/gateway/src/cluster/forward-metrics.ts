import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/*
 * What forwarding costs and how it ends. `kind`: `poll` (long-poll GET), `send` (polling POST),
 * `upgrade` (the WebSocket upgrade's TCP stream). `outcome`: `forwarded` (the owner answered, whatever
 * it said), `owner_unknown` (no live node of that name: answered "Session ID unknown" here),
 * `owner_unreachable` (connecting to it failed: the same answer), `timeout` (504), `overloaded`
 * (FORWARD_MAX_IN_FLIGHT reached: 503), `aborted` (the client went away first), `forged` (a request
 * carrying a forwarding header without a valid signature: 403).
 */

export const FORWARD_METRIC_NAMES = {
  requests: 'switchyard_forwarded_requests_total',
  inFlight: 'switchyard_forwards_in_flight',
  duration: 'switchyard_forward_duration_seconds',
} as const;

export type ForwardKind = 'poll' | 'send' | 'upgrade';
export type ForwardOutcome =
  'forwarded' | 'owner_unknown' | 'owner_unreachable' | 'timeout' | 'overloaded' | 'aborted' | 'forged';

export interface ForwardMetrics {
  outcome(kind: ForwardKind, outcome: ForwardOutcome, seconds?: number): void;
  inFlight: Gauge;
}

export function createForwardMetrics(registry: Registry): ForwardMetrics {
  const registers = [registry];
  const requests = new Counter({
    name: FORWARD_METRIC_NAMES.requests,
    help: 'Requests of sessions owned by another node, by kind and outcome',
    labelNames: ['kind', 'outcome'],
    registers,
  });
  const duration = new Histogram({
    name: FORWARD_METRIC_NAMES.duration,
    help: 'Time from receiving a request to the end of the owner node answer, by kind (long-polls are held)',
    labelNames: ['kind'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5, 30],
    registers,
  });
  const inFlight = new Gauge({
    name: FORWARD_METRIC_NAMES.inFlight,
    help: 'Requests (and upgrades being set up) this node is forwarding now',
    registers,
  });
  return {
    outcome(kind, outcome, seconds) {
      requests.inc({ kind, outcome });
      if (seconds !== undefined && outcome === 'forwarded') duration.observe({ kind }, seconds);
    },
    inFlight,
  };
}
