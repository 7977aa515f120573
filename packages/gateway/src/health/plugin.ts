import type { FastifyPluginAsync } from 'fastify';
import { ERRORS } from '@switchyard/protocol';
import type { Lifecycle } from '../shutdown/lifecycle.js';

/** What the cluster says about this node (in MongoDB mode: the adapter's `health()`). */
export interface ClusterReadiness {
  /** Fit to take traffic. */
  ready: boolean;
  /**
   * Why: `ready`; `waiting-for-primary` (MongoDB is electing a primary: every node sees the same, local
   * rooms keep working, cross-node messages wait and flow in order afterwards: still ready); or a reason
   * not to send this node traffic (`starting`, `deaf`, `unreachable`, `no-primary`, `closed`).
   */
  status: string;
  /** What this node's driver knows of MongoDB: `primary`, `no-primary`, `unreachable`. */
  mongo?: string;
  mongoSince?: Date;
  changeStream?: string;
  hearing?: boolean;
}

export interface HealthPluginOptions {
  lifecycle: Lifecycle;
  /** What else must be up for this node to take traffic (MongoDB mode: the adapter's health). */
  dependency?: () => ClusterReadiness;
}

/**
 * `/healthz`: the process answers. `/readyz`: it takes new traffic. Three answers, for a load balancer:
 * - 200 `{ status: 'ready' }`;
 * - 200 `{ status: 'degraded', reason: 'waiting-for-primary', mongo, since }`: MongoDB is electing a primary.
 *   Every node says the same at the same time, so taking this one out would only take them all out; local
 *   rooms keep working and cross-node messages are delivered once a primary is elected. Keep routing;
 * - 503 `{ code: 'NOT_READY', status, ... }` (this node is broken while the others may not be: deaf,
 *   cannot reach MongoDB, or MongoDB has had no primary for too long to be an election) or 503
 *   `{ code: 'SHUTTING_DOWN' }` (draining): send new connections elsewhere.
 */
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
    if (state === undefined || (state.ready && state.status === 'ready')) return { status: 'ready' };
    if (state.ready) {
      return { status: 'degraded', reason: state.status, mongo: state.mongo, since: state.mongoSince };
    }
    return reply.code(ERRORS.NOT_READY.status).send({
      code: ERRORS.NOT_READY.code,
      message: ERRORS.NOT_READY.message,
      status: state.status,
      mongo: state.mongo,
      changeStream: state.changeStream,
      hearing: state.hearing,
    });
  });
};
