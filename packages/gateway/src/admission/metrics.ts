import { Gauge, Histogram, type Registry } from 'prom-client';

/*
 * What admission control sees: handshakes and JWT verifications in progress (and the most at once
 * since start, which the storm test holds against the budget), and how long handshakes take. Refused
 * handshakes count in `switchyard_connections_refused_total{code="OVERLOADED"}` with the others.
 */

export const ADMISSION_METRIC_NAMES = {
  handshakes: 'switchyard_handshakes_in_flight',
  handshakesPeak: 'switchyard_handshakes_in_flight_peak',
  handshakeDuration: 'switchyard_handshake_duration_seconds',
  verifications: 'switchyard_jwt_verifications_in_flight',
  verificationsQueued: 'switchyard_jwt_verifications_queued',
} as const;

export interface AdmissionSources {
  handshakes(): number;
  handshakesPeak(): number;
  verifications(): number;
  verificationsQueued(): number;
}

export interface AdmissionMetrics {
  handshakeDone(seconds: number): void;
}

export function createAdmissionMetrics(registry: Registry, sources: AdmissionSources): AdmissionMetrics {
  const registers = [registry];
  const gauge = (name: string, help: string, read: () => number): void =>
    void new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(read());
      },
    });
  gauge(ADMISSION_METRIC_NAMES.handshakes, 'Handshakes in progress (Engine.IO open to Socket.IO connect)', () =>
    sources.handshakes(),
  );
  gauge(ADMISSION_METRIC_NAMES.handshakesPeak, 'The most handshakes in progress at once since start', () =>
    sources.handshakesPeak(),
  );
  gauge(ADMISSION_METRIC_NAMES.verifications, 'JWT verifications running', () => sources.verifications());
  gauge(ADMISSION_METRIC_NAMES.verificationsQueued, 'JWT verifications waiting for a slot', () =>
    sources.verificationsQueued(),
  );
  const duration = new Histogram({
    name: ADMISSION_METRIC_NAMES.handshakeDuration,
    help: 'Time a handshake held its admission slot',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });
  return { handshakeDone: (seconds) => duration.observe(seconds) };
}
