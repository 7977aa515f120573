import fp from 'fastify-plugin';
import { ERRORS } from '@switchyard/protocol';
import type { Lifecycle } from './lifecycle.js';

/*
 * While the node closes (it drains, then stops), HTTP requests get `503 { code: 'SHUTTING_DOWN' }`
 * and `Connection: close`, so keep-alive clients go elsewhere — in the protocol's error format,
 * where fastify's own `return503OnClosing` answers every route, probes included, with a body of
 * another shape. The probes keep answering: `/healthz` stays 200 while the process runs, `/readyz`
 * says SHUTTING_DOWN itself, and `/metrics` can be scraped to the end.
 */

export interface ClosingGateOptions {
  lifecycle: Lifecycle;
}

const ANSWERED_WHILE_CLOSING = new Set(['/healthz', '/readyz', '/metrics']);

export const closingGate = fp<ClosingGateOptions>(
  async (app, { lifecycle }) => {
    app.addHook('onRequest', async (request, reply) => {
      if (!lifecycle.closing || ANSWERED_WHILE_CLOSING.has(request.url.split('?')[0] ?? '')) return;
      return reply
        .code(ERRORS.SHUTTING_DOWN.status)
        .header('connection', 'close')
        .send({ code: ERRORS.SHUTTING_DOWN.code, message: ERRORS.SHUTTING_DOWN.message });
    });
  },
  { name: 'switchyard-closing-gate', fastify: '5.x' },
);
