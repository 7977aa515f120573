import type { FastifyPluginAsync } from 'fastify';
import { ERRORS } from '@switchyard/protocol';
import { connectError } from '../auth/plugin.js';
import type { GatewayServer } from '../types.js';
import type { Lifecycle } from './lifecycle.js';

/*
 * Graceful shutdown: `drain()` (drain.ts) when asked or on close, then Socket.IO and the HTTP
 * server stop. Readiness follows the lifecycle (health/), the transport gate refuses handshakes
 * once draining (socket/server.ts), and this plugin refuses the ones already past that gate.
 */

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
  const stopSockets = (): Promise<void> => {
    lifecycle.startClosing();
    return (stopped ??= drain().then(() => stopSocketIo(io)));
  };
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
