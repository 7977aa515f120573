import { randomBytes } from 'node:crypto';
import type { GatewayServer } from '../types.js';

/*
 * Engine.IO session ids that name the node which owns the session: `<20 random chars>.<NODE_ID>`,
 * and with GATEWAY_WORKERS the worker too: `<20 random chars>.<NODE_ID>.w<worker id>`.
 * Every request of a session after the handshake carries `?sid=`, so a load balancer can route it to
 * its node by the suffix alone (docker/nginx/*.conf.template), with no cookie and no IP hash.
 *
 * Why a suffix: @socket.io/sticky (GATEWAY_WORKERS) routes by the first 20 `[\w-]` characters after
 * `sid=`; the random part comes first and is exactly 20 base64url characters (120 bits), and the `.`
 * cannot occur in a NODE_ID, so node routing and worker routing never read each other's part.
 */

const RANDOM_BYTES = 15; // 15 bytes = 20 base64url characters

export function sessionIdFor(nodeId: string, worker?: number): string {
  return `${randomBytes(RANDOM_BYTES).toString('base64url')}.${nodeId}${worker === undefined ? '' : `.w${worker}`}`;
}

/** The node a session id names, or undefined for ids without one. */
export function nodeOfSessionId(sid: string): string | undefined {
  return sid.split('.')[1];
}

/** The worker a session id names (GATEWAY_WORKERS), or undefined. */
export function workerOfSessionId(sid: string): number | undefined {
  const part = sid.split('.')[2];
  return part?.startsWith('w') ? Number(part.slice(1)) : undefined;
}

/** The part of a session id that @socket.io/sticky routes workers by. */
export function stickyKeyOf(sid: string): string {
  return sid.slice(0, 20);
}

export function useNodeSessionIds(io: GatewayServer, nodeId: string, worker?: number): void {
  io.engine.generateId = () => sessionIdFor(nodeId, worker);
}
