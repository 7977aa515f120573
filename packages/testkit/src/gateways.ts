import { createGateway, type Gateway, type GatewayDeps, loadConfig } from '@switchyard/gateway';

/*
 * Real gateways in the test process, on ephemeral ports, quiet. Every one started here is closed by
 * `closeGateways()` (afterEach, or afterAll for a suite-wide one).
 */

export interface StartedGateway {
  gateway: Gateway;
  url: string;
  port: number;
  /** With METRICS_PORT: where `/metrics` is served instead. */
  metricsUrl?: string;
  /** Readiness false, clients told `server:shutdown` and their transports closed; the server keeps running. */
  drain(): Promise<void>;
  close(): Promise<void>;
}

const gateways = new Set<Gateway>();

/**
 * The gateway `createGateway(loadConfig(env))` builds, listening on 127.0.0.1 and a free port. The
 * drain is short (DRAIN_TIMEOUT_MS 500) so closing after a test never waits on a straggler; tests
 * of the drain itself set their own.
 */
export async function startGateway(env: Record<string, string> = {}, deps?: GatewayDeps): Promise<StartedGateway> {
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', DRAIN_TIMEOUT_MS: '500', ...env });
  const gateway = await createGateway(config, deps);
  gateways.add(gateway);
  const { url, metricsUrl } = await gateway.listen();
  return {
    gateway,
    url,
    ...(metricsUrl === undefined ? {} : { metricsUrl }),
    port: Number(new URL(url).port),
    drain: () => gateway.drain(),
    close: () => {
      gateways.delete(gateway);
      return gateway.close();
    },
  };
}

export async function closeGateways(): Promise<void> {
  const open = [...gateways];
  gateways.clear();
  await Promise.all(open.map((gateway) => gateway.close()));
}
