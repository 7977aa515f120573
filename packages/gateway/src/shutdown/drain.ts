import type { Server as HttpServer } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { ShutdownNotice } from '@switchyard/protocol';
import type { GatewayMetrics } from '../metrics/registry.js';
import type { GatewayServer } from '../types.js';
import { trackConnections } from './connections.js';
import { trackInFlight } from './in-flight.js';
import { NOTICE_HANDOVER_MS, watchHandover } from './notice-handover.js';
import type { Lifecycle } from './lifecycle.js';

/*
 * Draining: readiness goes false, new handshakes are refused at the transport (HTTP 403, so
 * socket.io-client keeps retrying with backoff and lands on another node), every connected client
 * gets `server:shutdown` and then its transport is closed — not a Socket.IO disconnect, which would
 * stop socket.io-client from reconnecting. At the deadline whatever is left is closed at once: a
 * client that cannot be told (it stopped reading, its network is gone) is simply cut off. Handlers
 * still running finish before the adapter closes.
 */

export interface DrainOptions {
  io: GatewayServer;
  /** The HTTP server Socket.IO is attached to (its upgraded WebSocket connections are tracked). */
  httpServer: HttpServer;
  lifecycle: Lifecycle;
  metrics: GatewayMetrics;
  log: Logger;
  /** DRAIN_TIMEOUT_MS: shared between clients leaving, handlers in flight and the adapter's last writes. */
  drainTimeoutMs: number;
}

/*
 * DRAIN_TIMEOUT_MS is the whole budget of a graceful stop (main.ts exits 1 s after it whatever happens).
 * Each step takes what it needs and at most its share: clients usually leave in well under a second (their
 * transports are closed), handlers in flight finish, and the adapter writes what its outbox still holds,
 * which during a MongoDB election (10–12 s) means waiting for the new primary.
 */
/** Share of DRAIN_TIMEOUT_MS spent waiting for clients to leave. */
const DRAIN_WAIT_SHARE = 0.3;
/** Share of DRAIN_TIMEOUT_MS spent, after that, for handlers still running. */
const IN_FLIGHT_WAIT_SHARE = 0.1;
/** Suggested pause before a client reconnects; socket.io-client adds its own jitter. */
const RECONNECT_AFTER_MS = 1000;
const POLL_MS = 20;

/** Share of DRAIN_TIMEOUT_MS the adapter may spend, after that, writing its outbox (its closeTimeoutMs). */
const ADAPTER_CLOSE_SHARE = 0.55;

/** The adapter's closeTimeoutMs for a drain of `drainTimeoutMs`: 13.75 s of the default 25 s. */
export function adapterCloseBudget(drainTimeoutMs: number): number {
  return Math.floor(drainTimeoutMs * ADAPTER_CLOSE_SHARE);
}

/** Returns the drain: it runs once, however often it is called, and resolves when clients are gone or the time is up. */
export function createDrain({
  io,
  httpServer,
  lifecycle,
  metrics,
  log,
  drainTimeoutMs,
}: DrainOptions): () => Promise<void> {
  const connections = trackConnections(io, httpServer);
  const inFlight = trackInFlight(io);
  let draining: Promise<void> | undefined;

  const drainClients = async (timeoutMs: number): Promise<void> => {
    if (lifecycle.draining) return;
    const sockets = [...io.of('/').sockets.values()];
    log.info({ sockets: sockets.length, connections: connections.size, timeoutMs }, 'draining');
    lifecycle.startDraining();
    const notice: ShutdownNotice = { reason: 'draining', reconnectAfterMs: RECONNECT_AFTER_MS };
    const deadline = Date.now() + timeoutMs;
    const handover = watchHandover(sockets, 'server:shutdown');
    for (const socket of sockets) {
      socket.emit('server:shutdown', notice);
      metrics.eventsOut.inc({ event: 'server:shutdown' });
    }
    // The notice must be queued on each connection before it closes (see notice-handover.ts).
    await handover.settled(Math.min(NOTICE_HANDOVER_MS, timeoutMs / 2));
    connections.closeAll();
    while (connections.size > 0 && Date.now() < deadline) await sleep(POLL_MS);
    const cutOff = connections.destroyRemaining();
    log.info({ cutOff }, 'drained');
  };

  return () =>
    (draining ??= drainClients(Math.floor(drainTimeoutMs * DRAIN_WAIT_SHARE)).then(() =>
      // A send between store and broadcast finishes before the adapter closes.
      inFlight.settle(Math.floor(drainTimeoutMs * IN_FLIGHT_WAIT_SHARE)),
    ));
}
