import type { Logger } from 'pino';
import { type DisconnectNotice, ERRORS } from '@switchyard/protocol';
import type { GatewayMetrics } from '../metrics/registry.js';
import { closeAfterNotice } from '../shutdown/notice-handover.js';
import { ExpirySchedule } from './expiry-schedule.js';
import type { GatewayServer, GatewaySocket } from '../types.js';

/*
 * Access ends with the JWT: at its `exp` a socket is told why (`server:disconnect`, TOKEN_EXPIRED)
 * and its transport is closed — not a Socket.IO disconnect, so socket.io-client reconnects by itself
 * (the SDK with a fresh token from `getToken`) and, with connection state recovery, gets its session
 * back with what it missed. Events that arrive after `exp` and before the close are refused (see
 * socket/inbound.ts). One timer for all sockets (expiry-schedule.ts); none in anonymous mode.
 */

/** setTimeout's ceiling (about 24.8 days): a later deadline is reached in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Calls `run` at `atMs` (ms since the epoch), however far off; returns a cancel function. */
export function atTime(atMs: number, run: () => void): () => void {
  let timer: NodeJS.Timeout;
  const arm = (): void => {
    const wait = atMs - Date.now();
    if (wait <= 0) return run();
    timer = setTimeout(arm, Math.min(wait, MAX_TIMER_MS));
    timer.unref();
  };
  arm();
  return () => clearTimeout(timer);
}

export function isExpired(socket: GatewaySocket, now = Date.now()): boolean {
  const at = socket.data.tokenExpiresAt;
  return typeof at === 'number' && now >= at;
}

export const TOKEN_EXPIRED_NOTICE: DisconnectNotice = {
  code: 'TOKEN_EXPIRED',
  message: ERRORS.TOKEN_EXPIRED.message,
};

/** Closes every socket's connection when its token expires. Returns a stop function. */
export function closeSocketsAtExpiry(io: GatewayServer, metrics: GatewayMetrics, log: Logger): () => void {
  const schedule = new ExpirySchedule<GatewaySocket>((socket) => {
    if (!socket.connected) return;
    log.info({ socketId: socket.id, userId: socket.data.user.id }, 'token expired: closing the connection');
    // The transport, not the Socket.IO session: the client reconnects and may recover it.
    void closeAfterNotice(socket, 'server:disconnect', () => {
      socket.emit('server:disconnect', TOKEN_EXPIRED_NOTICE);
      metrics.eventsOut.inc({ event: 'server:disconnect' });
    });
  });
  // One listener function for every socket: an idle socket costs its place in the schedule.
  function forget(this: GatewaySocket): void {
    const at = this.data.tokenExpiresAt;
    if (typeof at === 'number') schedule.delete(this, at);
  }
  io.on('connection', (socket) => {
    const at = socket.data.tokenExpiresAt;
    if (typeof at !== 'number') return;
    schedule.add(socket, at);
    socket.on('disconnect', forget);
  });
  return () => schedule.stop();
}
