import type { IncomingMessage, Server as HttpServer } from 'node:http';
import { Server, type ServerOptions } from 'socket.io';
import type { GatewayConfig } from '../config.js';
import type { OriginPolicy } from '../http/origin-policy.js';
import type { GatewayMetrics } from '../metrics/registry.js';
import type { Lifecycle } from '../shutdown/lifecycle.js';
import type { GatewayServer } from '../types.js';
import { answerOversizedPolls } from './payload-too-large.js';

export interface SocketServerOptions {
  config: GatewayConfig;
  /** The adapter constructor (it must offer the "delivered locally" hook: see adapters/). */
  adapter: NonNullable<ServerOptions['adapter']>;
  lifecycle: Lifecycle;
  origins: OriginPolicy;
  metrics: GatewayMetrics;
}

/** The typed Socket.IO server on the gateway's HTTP server, configured from the environment. */
export function createSocketServer(
  httpServer: HttpServer,
  { config, adapter, lifecycle, origins, metrics }: SocketServerOptions,
): GatewayServer {
  const io: GatewayServer = new Server(httpServer, {
    transports: [...config.transports],
    perMessageDeflate: config.perMessageDeflate,
    maxHttpBufferSize: config.maxHttpBufferSize,
    serveClient: false,
    allowRequest: handshakeGate(lifecycle, origins.allowsRequest, metrics),
    adapter,
    ...(origins.socketIoCors === undefined ? {} : { cors: origins.socketIoCors }),
    ...(config.maxDisconnectionDurationMs > 0
      ? {
          connectionStateRecovery: {
            maxDisconnectionDuration: config.maxDisconnectionDurationMs,
            // socket.io skips the middlewares of a recovered session by default: its handshake would
            // bypass auth (an expired token, a throttled address), the drain gate and the socket limits.
            skipMiddlewares: false,
          },
        }
      : {}),
  });
  answerOversizedPolls(io, config.maxHttpBufferSize);
  return io;
}

/** engine.io `allowRequest`: only handshakes come here; refused ones get HTTP 403. */
function handshakeGate(
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
