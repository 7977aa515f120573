import type { FastifyPluginAsync } from 'fastify';
import type { Logger } from 'pino';
import type { ExtendedError } from 'socket.io';
import { type ErrorCode, SwitchyardError } from '@switchyard/protocol';
import type { VerificationBudget } from '../admission/verifications.js';
import type { ClusterSocketsPerUser } from '../cluster/user-sockets.js';
import type { ClientAddresses } from './client-address.js';
import { closeSocketsAtExpiry } from './expiry.js';
import type { AuthFailures } from './failures.js';
import { createIdentify } from './identify.js';
import type { GatewayConfig } from '../config.js';
import type { GatewayMetrics } from '../metrics/registry.js';
import type { GatewayServer, GatewaySocket } from '../types.js';

export interface AuthPluginOptions {
  io: GatewayServer;
  config: GatewayConfig;
  metrics: GatewayMetrics;
  /** Failed authentications per client address, shared with SSE and the HTTP API. */
  authFailures: AuthFailures;
  addresses: ClientAddresses;
  /** MongoDB mode: MAX_SOCKETS_PER_USER counted across the cluster. */
  clusterSockets?: ClusterSocketsPerUser;
  /** Bounds the JWT verifications running at once on this node (admission/). */
  verifications?: VerificationBudget;
  log: Logger;
}

/**
 * Handshake middleware: identifies the user (anonymous name or verified JWT) into
 * `socket.data.user` — refused with RATE_LIMITED while the client's address has too many failed
 * authentications — and enforces MAX_SOCKETS_PER_USER. A refusal reaches the client as
 * `connect_error` with `err.data = { code, message }`.
 */
export const authPlugin: FastifyPluginAsync<AuthPluginOptions> = async (
  app,
  { io, config, metrics, authFailures, addresses, clusterSockets, verifications, log },
) => {
  const identifyUser = createIdentify(config.auth);
  const identify = config.auth.mode === 'jwt' && verifications ? verifications.wrap(identifyUser) : identifyUser;
  const socketsPerUser = new SocketsPerUser(config.maxSocketsPerUser);
  if (config.auth.mode === 'jwt') {
    const stopExpiry = closeSocketsAtExpiry(io, metrics, log);
    app.addHook('onClose', async () => stopExpiry());
  }

  io.use((socket, next) => {
    admit(socket).then(
      () => next(),
      (error: unknown) => next(refusal(error)),
    );
  });

  async function admit(socket: GatewaySocket): Promise<void> {
    const address = addresses.of(socket.request);
    const { user, expiresAt } = await authFailures.attempt(address, () => identify(socket.handshake.auth, socket.id));
    // A recovered session (its rooms, its missed packets) goes back to the user it belonged to only.
    const previous: unknown = socket.recovered ? socket.data.user : undefined;
    if (previous !== undefined && (previous as { id?: unknown } | null)?.id !== user.id)
      throw new SwitchyardError('FORBIDDEN', 'This session belongs to another user');
    if (!(await reserveSlots(user.id, socket))) throw new SwitchyardError('TOO_MANY_SOCKETS');
    socket.data.user = user;
    // Replaced, or removed: a recovered session brings back the data of its previous token (and
    // MongoDB stores an undefined field as null).
    if (expiresAt === undefined) delete socket.data.tokenExpiresAt;
    else socket.data.tokenExpiresAt = expiresAt;
  }

  /** This node's slot first (no round trip when it is full), then the cluster's (MongoDB mode). */
  async function reserveSlots(userId: string, socket: GatewaySocket): Promise<boolean> {
    const release = socketsPerUser.reserve(userId, socket);
    if (release === undefined) return false;
    if (clusterSockets === undefined || config.maxSocketsPerUser === 0) return true;
    let admitted: boolean;
    try {
      admitted = await clusterSockets.reserve(userId, socket.id);
    } catch (error) {
      release();
      throw error;
    }
    if (!admitted) release();
    else onceGone(socket, () => clusterSockets.release(socket.id));
    return admitted;
  }

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
 * given back once, on whichever comes first: socket disconnect, transport close, or the release
 * function `reserve` returns (a handshake refused by a later check).
 */
class SocketsPerUser {
  readonly #max: number;
  readonly #open = new Map<string, number>();

  constructor(max: number) {
    this.#max = max;
  }

  /** The release function of the slot taken, or undefined when the user has as many as allowed. */
  reserve(userId: string, socket: GatewaySocket): (() => void) | undefined {
    if (this.#max === 0) return () => undefined;
    const open = this.#open.get(userId) ?? 0;
    if (open >= this.#max) return undefined;
    this.#open.set(userId, open + 1);
    return onceGone(socket, () => {
      const left = (this.#open.get(userId) ?? 1) - 1;
      if (left <= 0) this.#open.delete(userId);
      else this.#open.set(userId, left);
    });
  }
}

/** Runs `release` once, when the socket disconnects or its transport closes; returns it to call earlier. */
function onceGone(socket: GatewaySocket, release: () => void): () => void {
  let released = false;
  const once = (): void => {
    if (released) return;
    released = true;
    release();
  };
  socket.once('disconnect', once);
  socket.conn.once('close', once);
  return once;
}
