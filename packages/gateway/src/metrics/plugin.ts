import type { FastifyPluginAsync } from 'fastify';
import type { GatewayMetrics } from './registry.js';
import type { GatewayServer } from '../types.js';

export interface MetricsPluginOptions {
  io: GatewayServer;
  metrics: GatewayMetrics;
}

/** `GET /metrics` in the Prometheus text format, from this gateway's own registry. */
export const metricsPlugin: FastifyPluginAsync<MetricsPluginOptions> = async (app, { io, metrics }) => {
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

  app.get('/metrics', { logLevel: 'warn' }, async (_request, reply) => {
    const body = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(body);
  });
};
