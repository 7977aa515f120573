import type { FastifyPluginAsync } from 'fastify';
import { ERRORS } from '@switchyard/protocol';
import type { Lifecycle } from '../lifecycle.js';

export interface HealthPluginOptions {
  lifecycle: Lifecycle;
}

/** `/healthz`: the process answers. `/readyz`: it takes new traffic (503 once draining). */
export const healthPlugin: FastifyPluginAsync<HealthPluginOptions> = async (app, { lifecycle }) => {
  // Probes hit these every few seconds: keep them out of the info log.
  app.get('/healthz', { logLevel: 'warn' }, async () => ({ status: 'ok' }));
  app.get('/readyz', { logLevel: 'warn' }, async (_request, reply) => {
    if (lifecycle.draining) {
      return reply.code(ERRORS.SHUTTING_DOWN.status).send({ code: ERRORS.SHUTTING_DOWN.code, message: ERRORS.SHUTTING_DOWN.message });
    }
    return { status: 'ready' };
  });
};
