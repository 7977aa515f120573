import type { IncomingMessage } from 'node:http';
import type { FastifyCorsOptions } from '@fastify/cors';
import type { ServerOptions } from 'socket.io';

/*
 * CORS_ORIGINS for both servers. CORS headers only stop browsers reading responses, and
 * WebSocket upgrades ignore CORS altogether, so handshakes are also checked server-side:
 * a request whose Origin header is neither allowed nor the gateway's own host is refused.
 * Requests without an Origin (non-browser clients) are not affected.
 */

export interface OriginPolicy {
  allowsRequest(req: IncomingMessage): boolean;
  socketIoCors: ServerOptions['cors'] | undefined;
  fastifyCors: FastifyCorsOptions | undefined;
}

/** A refused handshake's Retry-After (admission/) must be readable by the SDK in a browser. */
const exposedHeaders = ['Retry-After'];

export function originPolicy(corsOrigins: readonly string[]): OriginPolicy {
  if (corsOrigins.includes('*')) {
    return { allowsRequest: () => true, socketIoCors: { origin: '*', exposedHeaders }, fastifyCors: { origin: '*' } };
  }
  const allowed = new Set(corsOrigins);
  const allowsRequest = (req: IncomingMessage): boolean => {
    const origin = req.headers.origin;
    if (origin === undefined || allowed.has(origin)) return true;
    return sameHost(origin, req.headers.host);
  };
  if (allowed.size === 0) return { allowsRequest, socketIoCors: undefined, fastifyCors: undefined };
  const origins = [...allowed];
  return {
    allowsRequest,
    socketIoCors: { origin: origins, credentials: true, exposedHeaders },
    fastifyCors: { origin: origins, credentials: true },
  };
}

function sameHost(origin: string, host: string | undefined): boolean {
  if (host === undefined) return false;
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}
