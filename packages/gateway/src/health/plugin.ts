import type { FastifyPluginAsync } from 'fastify';
import { ERRORS } from '@switchyard/protocol';
import type { Lifecycle } from '../shutdown/lifecycle.js';

export interface HealthPluginOptions {
  lifecycle: Lifecycle;
  /**
   * What else must be up for this node to take traffic (MongoDB mode: the adapter's change stream is
   * open and this node hears its own heartbeat). Its fields are shown in the 503 body.
   */
  dependency?: () => { ready: boolean; changeStream?: string; hearing?: boolean };
}

/** `/healthz`: the process answers. `/readyz`: it takes new traffic (503 once draining). */
export const healthPlugin: FastifyPluginAsync<HealthPluginOptions> = async (app, { lifecycle, dependency }) => {
  // Probes hit these every few seconds: keep them out of the info log.
  app.get('/healthz', { logLevel: 'warn' }, async () => ({ status: 'ok' }));
  app.get('/readyz', { logLevel: 'warn' }, async (_request, reply) => {
    if (lifecycle.draining) {
      return reply
        .code(ERRORS.SHUTTING_DOWN.status)
        .send({ code: ERRORS.SHUTTING_DOWN.code, message: ERRORS.SHUTTING_DOWN.message });
    }
    const state = dependency?.();
    if (state !== undefined && !state.ready) {
      return reply.code(ERRORS.NOT_READY.status).send({
        code: ERRORS.NOT_READY.code,
        message: ERRORS.NOT_READY.message,
        changeStream: state.changeStream,
        hearing: state.hearing,
      });
    }
    return { status: 'ready' };
  });
};
