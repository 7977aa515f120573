import { createHash, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import type { Logger } from 'pino';
import { SwitchyardError } from '@switchyard/protocol';
import { bearerCredentials } from '../auth/bearer.js';
import type { AuthFailures } from '../auth/failures.js';
import type { MetricsConfig } from '../config.js';
import { errorsPlugin } from '../http/errors.js';
import type { GatewayServer } from '../types.js';
import type { GatewayMetrics } from './registry.js';

/*
 * `GET /metrics` in the Prometheus text format, from this gateway's own registry (its metrics, and
 * prom-client's process and Node.js ones). Open by default; METRICS_TOKEN makes it require
 * `Authorization: Bearer <token>` (a wrong one counts as a failed authentication of the address),
 * and METRICS_PORT moves it to a port of its own (a network the public never reaches), off PORT.
 */

export interface MetricsPluginOptions {
  io: GatewayServer;
  metrics: GatewayMetrics;
  config: MetricsConfig;
  authFailures: AuthFailures;
}

export interface MetricsServer {
  /** Listens on `host` and METRICS_PORT; resolves with the URL of `/metrics`. */
  listen(host: string): Promise<string>;
  close(): Promise<void>;
}

export const metricsPlugin: FastifyPluginAsync<MetricsPluginOptions> = async (
  app,
  { io, metrics, config, authFailures },
) => {
  metrics.observeConnections(() => {
    const byTransport = new Map<string, number>([
      ['polling', 0],
      ['websocket', 0],
    ]);
    for (const socket of io.of('/').sockets.values()) {
      const transport = socket.conn.transport.name;
      byTransport.set(transport, (byTransport.get(transport) ?? 0) + 1);
    }
    return byTransport;
  });
  if (config.port === undefined) metricsRoute(app, { metrics, config, authFailures });
};

/** The `/metrics` route with its token check, on the main app or on the metrics server. */
function metricsRoute(
  app: FastifyInstance,
  { metrics, config, authFailures }: Pick<MetricsPluginOptions, 'metrics' | 'config' | 'authFailures'>,
): void {
  const checkToken = tokenCheck(config.tokenSha256);
  app.get('/metrics', { logLevel: 'warn' }, async (request, reply) => {
    await authFailures.attempt(request.ip, async () => checkToken(bearerCredentials(request.headers)));
    const body = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(body);
  });
}

/** With METRICS_PORT: a small fastify app of its own serving `/metrics` alone. */
export function createMetricsServer(
  options: Pick<MetricsPluginOptions, 'metrics' | 'config' | 'authFailures'> & { log: Logger },
): MetricsServer | undefined {
  const { port } = options.config;
  if (port === undefined) return undefined;
  let app: FastifyInstance | undefined;
  return {
    async listen(host) {
      const server: FastifyInstance = Fastify({
        loggerInstance: options.log as FastifyBaseLogger,
        return503OnClosing: false,
      });
      app = server;
      await server.register(errorsPlugin);
      metricsRoute(server, options);
      await server.listen({ port, host });
      const address = server.server.address() as AddressInfo;
      const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
      return `http://${shown}:${address.port}/metrics`;
    },
    async close() {
      await app?.close();
    },
  };
}

function tokenCheck(tokenSha256: string | undefined): (candidate: string | undefined) => void {
  if (tokenSha256 === undefined) return () => undefined;
  const expected = Buffer.from(tokenSha256, 'hex');
  return (candidate) => {
    if (candidate === undefined)
      throw new SwitchyardError('AUTH_REQUIRED', 'Metrics need Authorization: Bearer <METRICS_TOKEN>');
    const digest = createHash('sha256').update(candidate).digest();
    if (!timingSafeEqual(digest, expected)) throw new SwitchyardError('AUTH_INVALID', 'Wrong metrics token');
  };
}
