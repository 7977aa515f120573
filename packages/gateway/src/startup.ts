import { isIP } from 'node:net';
import type { GatewayConfig } from './config.js';

/*
 * What a node says about where it listens: a friendly error when it cannot (the port is taken, the
 * address is not this machine's), in the shape of a configuration error, and a warning when
 * anonymous chat is reachable from the network.
 */

/** The lines to print when listening failed for a reason the configuration can fix, else undefined. */
export function describeListenError(error: unknown, config: Pick<GatewayConfig, 'host' | 'port'>): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  const where = `${config.host}:${config.port}`;
  const problem = (() => {
    switch (code) {
      case 'EADDRINUSE':
        return `PORT: ${config.port} is already in use on ${config.host}: stop what uses it, or set PORT to a free port (0 picks one)`;
      case 'EACCES':
        return `PORT: ${config.port} needs privileges this process lacks: use a port above 1023 (a proxy can still serve 80/443)`;
      case 'EADDRNOTAVAIL':
        return `HOST: ${config.host} is not an address of this machine`;
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
        return `HOST: ${config.host} does not resolve to an address`;
      default:
        return undefined;
    }
  })();
  return problem === undefined
    ? undefined
    : `switchyard: cannot listen on ${where} (${String(code)}):\n  - ${problem}\n`;
}

/** True for 127.0.0.0/8, ::1, and `localhost`: only this machine can connect. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1' || host === '[::1]') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

/** Undefined, or why this node is more open than its auth mode is meant for. */
export function exposureWarning(config: Pick<GatewayConfig, 'host' | 'auth'>): string | undefined {
  if (config.auth.mode !== 'anonymous' || isLoopback(config.host)) return undefined;
  return (
    `anonymous auth on HOST=${config.host}: anyone who can reach this machine can chat under any name ` +
    '(anonymous mode is for local use; set AUTH_MODE=jwt, or HOST=127.0.0.1)'
  );
}
