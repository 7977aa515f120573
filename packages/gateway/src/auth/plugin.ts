import type { FastifyPluginAsync } from 'fastify';
import type { Logger } from 'pino';
import type { ExtendedError } from 'socket.io';
import { type ErrorCode, SwitchyardError } from '@switchyard/protocol';
import type { VerificationBudget } from '../admission/verifications.js';
import { createIdentify } from './identify.js';
import type { GatewayConfig } from '../config.js';
import type { GatewayMetrics } from '../metrics/registry.js';
import type { GatewayServer, GatewaySocket } from '../types.js';

export interface AuthPluginOptions {
  io: GatewayServer;
  config: GatewayConfig;
  metrics: GatewayMetrics;
  /** Bounds the JWT verifications running at once on this node (admission/). */
  verifications?: VerificationBudget;
  log: Logger;
}

/**
 * Handshake middleware: identifies the user (anonymous name or verified JWT) into
 * `socket.data.user`, and enforces MAX_SOCKETS_PER_USER. A refusal reaches the client as
 * `connect_error` with `err.data = { code, message }`.
 */
export const authPlugin: FastifyPluginAsync<AuthPluginOptions> = async (
  _app,
  { io, config, metrics, verifications, log },
) => {
  const identifyUser = createIdentify(config.auth);
  const identify = config.auth.mode === 'jwt' && verifications ? verifications.wrap(identifyUser) : identifyUser;
  const socketsPerUser = new SocketsPerUser(config.maxSocketsPerUser);

  io.use((socket, next) => {
    identify(socket.handshake.auth, socket.id).then(
      (user) => {
        if (!socketsPerUser.reserve(user.id, socket)) return next(refusal(new SwitchyardError('TOO_MANY_SOCKETS')));
        socket.data.user = user;
        next();
      },
      (error: unknown) => next(refusal(error)),
    );
  });

  function refusal(error: unknown): ExtendedError {
    const known =
      error instanceof SwitchyardError ? error : new SwitchyardError('INTERNAL', undefined, { cause: error });
    if (known.code === 'INTERNAL') log.error({ err: error }, 'handshake failed');
    else log.info({ code: known.code }, 'connection refused');
    metrics.connectionsRefused.inc({ code: known.code });
    return connectError(known.code, known.message);
  }
};

export function connectError(code: ErrorCode, message: string): ExtendedError {
  const error: ExtendedError = new Error(message);
  error.data = { code, message };
  return error;
}

/**
 * Open sockets per user on this node. A slot is taken during the handshake (not at
 * 'connection', which comes a tick later) so concurrent handshakes cannot overshoot, and is
 * given back once, on whichever comes first: socket disconnect or transport close.
 */
class SocketsPerUser {
  readonly #max: number;
  readonly #open = new Map<string, number>();

  constructor(max: number) {
    this.#max = max;
  }

  reserve(userId: string, socket: GatewaySocket): boolean {
    if (this.#max === 0) return true;
    const open = this.#open.get(userId) ?? 0;
    if (open >= this.#max) return false;
    this.#open.set(userId, open + 1);
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      const left = (this.#open.get(userId) ?? 1) - 1;
      if (left <= 0) this.#open.delete(userId);
      else this.#open.set(userId, left);
    };
    socket.once('disconnect', release);
    socket.conn.once('close', release);
    return true;
  }
}
