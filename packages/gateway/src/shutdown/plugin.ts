import type { FastifyBaseLogger, FastifyPluginAsync } from 'fastify';
import type { IncomingMessage } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { ERRORS, type ShutdownNotice } from '@switchyard/protocol';
import type { Lifecycle } from './lifecycle.js';
import type { GatewayMetrics } from '../metrics/registry.js';
import type { GatewayServer } from '../types.js';
import { connectError } from '../auth/plugin.js';

/*
 * Graceful shutdown. Draining: readiness goes false, new handshakes are refused at the
 * transport (HTTP 403, so socket.io-client keeps retrying with backoff and lands on another
 * node), every connected client gets `server:shutdown` and then its transport is closed —
 * not a Socket.IO disconnect, which would stop socket.io-client from reconnecting.
 * Then, on close, Socket.IO and the HTTP server stop.
 */

export interface DrainOptions {
  io: GatewayServer;
  lifecycle: Lifecycle;
  metrics: GatewayMetrics;
  log: FastifyBaseLogger;
  /** How long to wait for clients to go before closing their connections anyway. */
  timeoutMs: number;
}

/** Suggested pause before a client reconnects; socket.io-client adds its own jitter. */
const RECONNECT_AFTER_MS = 1000;
const POLL_MS = 20;

export async function drainGateway({ io, lifecycle, metrics, log, timeoutMs }: DrainOptions): Promise<void> {
  if (!lifecycle.startDraining()) return;
  const sockets = [...io.of('/').sockets.values()];
  log.info({ sockets: sockets.length, timeoutMs }, 'draining');
  const notice: ShutdownNotice = { reason: 'draining', reconnectAfterMs: RECONNECT_AFTER_MS };
  for (const socket of sockets) {
    socket.emit('server:shutdown', notice);
    metrics.eventsOut.inc({ event: 'server:shutdown' });
  }
  // engine.io flushes what is buffered (the notice) before it closes a transport.
  const engineClients = (io.engine as unknown as { clients: Record<string, { close(): void }> }).clients;
  for (const client of Object.values(engineClients)) client.close();

  const deadline = Date.now() + timeoutMs;
  while (io.engine.clientsCount > 0 && Date.now() < deadline) await sleep(POLL_MS);
  log.info({ remaining: io.engine.clientsCount }, 'drained');
}

/** engine.io `allowRequest`: only handshakes come here; refused ones get HTTP 403. */
export function handshakeGate(
  lifecycle: Lifecycle,
  originAllowed: (req: IncomingMessage) => boolean,
  metrics: GatewayMetrics,
) {
  const refuse = (code: 'SHUTTING_DOWN' | 'FORBIDDEN', callback: (err: string, success: boolean) => void): void => {
    metrics.connectionsRefused.inc({ code });
    callback(code, false);
  };
  return (req: IncomingMessage, callback: (err: string | null | undefined, success: boolean) => void): void => {
    if (lifecycle.draining) return refuse('SHUTTING_DOWN', callback);
    if (!originAllowed(req)) return refuse('FORBIDDEN', callback);
    callback(null, true);
  };
}

export interface ShutdownPluginOptions {
  io: GatewayServer;
  lifecycle: Lifecycle;
  /** Runs the drain once, however often it is called. */
  drain: () => Promise<void>;
}

export const shutdownPlugin: FastifyPluginAsync<ShutdownPluginOptions> = async (app, { io, lifecycle, drain }) => {
  // A handshake already past the transport gate when draining began is refused here.
  io.use((_socket, next) => {
    next(lifecycle.draining ? connectError('SHUTTING_DOWN', ERRORS.SHUTTING_DOWN.message) : undefined);
  });

  let stopped: Promise<void> | undefined;
  const stopSockets = (): Promise<void> => (stopped ??= drain().then(() => stopSocketIo(io)));
  // Sockets must be gone before the HTTP server closes: it waits for every open connection.
  // fastify then closes the server (forceCloseConnections ends what is left).
  app.addHook('preClose', stopSockets);
  // preClose only runs for an app that became ready; this covers one closed before listening.
  app.addHook('onClose', stopSockets);
};

/**
 * `io.close()` minus closing the HTTP server, which belongs to fastify: `io.close()` would wait
 * for every HTTP connection to end before fastify gets to force the stragglers closed.
 */
async function stopSocketIo(io: GatewayServer): Promise<void> {
  io.local.disconnectSockets(true);
  io.engine.close();
  await io.of('/').adapter.close();
}
