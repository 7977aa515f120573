import { type IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyPluginAsync } from 'fastify';
import type { Logger } from 'pino';
import type { AdmissionConfig } from '../config.js';
import { errorAnswer, errorAnswerUpgrade } from '../cluster/engine-answers.js';
import { sessionIdOf } from '../cluster/session-routing.js';
import type { GatewayMetrics } from '../metrics/registry.js';
import type { GatewayServer } from '../types.js';
import { HandshakeBudget, type HandshakeSlot } from './handshake-budget.js';
import { createAdmissionMetrics } from './metrics.js';
import type { VerificationBudget } from './verifications.js';

/*
 * Reconnect storms: when a node dies, all of its clients come back at once to the others. Each
 * handshake (Engine.IO open to Socket.IO connect) takes a slot of HANDSHAKE_MAX_CONCURRENT when its
 * session is requested, before anything costly (JWT verification, session restore) is done; with none
 * left the request is answered `503 { code: 'OVERLOADED' }` with `Retry-After: HANDSHAKE_RETRY_AFTER_S`,
 * which the SDK honours, adding jitter. Only handshakes are refused: established sessions and their
 * requests never are. Readiness does not change: a busy node is not a broken one.
 */

/** A handshake that has not become a Socket.IO connection by then stops counting against the budget. */
const HANDSHAKE_DEADLINE_MS = 10_000;

export interface AdmissionPluginOptions {
  io: GatewayServer;
  config: AdmissionConfig;
  verifications: VerificationBudget;
  metrics: GatewayMetrics;
  log: Logger;
}

interface EngineSocket {
  request: IncomingMessage;
  on(event: 'close', listener: (this: object) => void): void;
}

export const admissionPlugin: FastifyPluginAsync<AdmissionPluginOptions> = async (
  _app,
  { io, config, verifications, metrics, log },
) => {
  const budget = new HandshakeBudget(config.maxHandshakes, HANDSHAKE_DEADLINE_MS);
  const admissionMetrics = createAdmissionMetrics(metrics.registry, {
    handshakes: () => budget.inFlight,
    handshakesPeak: () => budget.peak,
    verifications: () => verifications.running,
    verificationsQueued: () => verifications.queued,
  });
  const retryAfter = { 'Retry-After': String(config.retryAfterSeconds) };
  // A slot follows its handshake: the request, then the Engine.IO session it opened.
  const byRequest = new WeakMap<IncomingMessage, HandshakeSlot>();
  const bySession = new WeakMap<object, HandshakeSlot>();
  const upgradeSettles = new WeakMap<IncomingMessage, () => void>();

  io.engine.use((req: IncomingMessage, res: unknown, next: (error?: unknown) => void) => {
    if (sessionIdOf(req.url) !== undefined) return next();
    const slot = budget.take((heldMs) => admissionMetrics.handshakeDone(heldMs / 1000));
    if (slot === undefined) {
      metrics.connectionsRefused.inc({ code: 'OVERLOADED' });
      log.debug({ inFlight: budget.inFlight }, 'handshake refused: over budget');
      if (res instanceof ServerResponse) errorAnswer(res, 'OVERLOADED', retryAfter);
      else errorAnswerUpgrade(req.socket, 'OVERLOADED', retryAfter);
      return;
    }
    byRequest.set(req, slot);
    // No session came of it (refused by engine.io, or the client went away): give the slot back. An
    // upgrade's TCP socket lives as long as the connection: its listener goes once a session is made.
    const settle = (): void => {
      if (byRequest.get(req) === slot) slot.release();
    };
    if (res instanceof ServerResponse) res.once('close', settle);
    else {
      req.socket.once('close', settle);
      upgradeSettles.set(req, settle);
    }
    next();
  });

  io.engine.on('connection', (session: EngineSocket) => {
    const slot = byRequest.get(session.request);
    if (slot === undefined) return;
    byRequest.delete(session.request);
    const settle = upgradeSettles.get(session.request);
    if (settle !== undefined) {
      upgradeSettles.delete(session.request);
      session.request.socket.off('close', settle);
    }
    bySession.set(session, slot);
    // One listener function for every session: an idle session costs no closure here.
    session.on('close', releaseSession);
  });
  function releaseSession(this: object): void {
    bySession.get(this)?.release();
  }
  // The Socket.IO connection is made: the handshake is over.
  io.on('connection', (socket) => bySession.get(socket.conn)?.release());
};
