import type { IncomingMessage } from 'node:http';
import proxyAddr from '@fastify/proxy-addr';

/*
 * Who is on the other end of a request, for limits kept per client address (failed
 * authentications, SSE streams of anonymous clients). Behind a load balancer every connection comes
 * from the balancer: with TRUST_PROXY naming it, the address is read from X-Forwarded-For, as far
 * back as the chain is trusted — the same rule fastify applies to `request.ip`, so sockets and HTTP
 * routes agree.
 */

export type TrustProxy = (address: string, hop: number) => boolean;

export interface ClientAddresses {
  /** fastify's `trustProxy`: undefined when no proxy is trusted. */
  readonly trust: TrustProxy | undefined;
  /** The client address of a raw request (a Socket.IO handshake's `socket.request`). */
  of(request: IncomingMessage): string;
}

/** `trusted`: addresses, CIDR ranges or `loopback`, `linklocal`, `uniquelocal` (TRUST_PROXY). */
export function clientAddresses(trusted: readonly string[]): ClientAddresses {
  if (trusted.length === 0) return { trust: undefined, of: (request) => request.socket.remoteAddress ?? '' };
  const trust = proxyAddr.compile([...trusted]);
  return { trust, of: (request) => proxyAddr(request, trust) };
}
