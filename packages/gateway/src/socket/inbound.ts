import type { Logger } from 'pino';
import {
  type AckError,
  CLIENT_EVENTS,
  type ClientEventName,
  type ClientEventValidators,
  ERRORS,
  isErrorCode,
  SwitchyardError,
} from '@switchyard/protocol';
import { isExpired } from '../auth/expiry.js';
import { countRejection, type GatewayMetrics } from '../metrics/registry.js';
import type { GatewaySocket } from '../types.js';
import type { SocketRateLimits } from './rate-limit.js';

/*
 * Every inbound socket event goes through `handleInbound`: rate limit, known name, schema,
 * then the handler; whatever happens the client gets exactly one answer (its ack, or a
 * `gateway:error` emit when it sent no ack), a metric is counted, and nothing throws.
 */

/** Shared by every socket: nothing here is per socket, so an idle socket costs nothing. */
export interface InboundContext {
  log: Logger;
  metrics: GatewayMetrics;
  rateLimits: SocketRateLimits;
  /** The protocol's schemas, compiled with this gateway's limits. */
  validators: ClientEventValidators;
}

/** A handler of one client event, shared by every socket. */
export type InboundHandler = (socket: GatewaySocket, payload: never) => Promise<HandlerResult>;

type Ack = (response: unknown) => void;

/** What a handler resolves to: the fields of an `{ ok: true, ... }` ack. */
export type HandlerResult = object;

const KNOWN_EVENTS = new Set<string>(CLIENT_EVENTS);
/** Unknown event names are attacker-chosen: bound what is echoed and logged. */
const MAX_ECHOED_EVENT_NAME = 64;

export function isClientEvent(event: string): event is ClientEventName {
  return KNOWN_EVENTS.has(event);
}

/** Socket.IO passes the ack callback as the last argument, only when the client asked for one. */
export function splitArgs(args: readonly unknown[]): { payload: unknown; ack: Ack | undefined } {
  const last = args.at(-1);
  if (typeof last === 'function') return { payload: args.length > 1 ? args[0] : undefined, ack: last as Ack };
  return { payload: args[0], ack: undefined };
}

export async function handleInbound(
  ctx: InboundContext,
  socket: GatewaySocket,
  eventName: string,
  args: readonly unknown[],
  handler?: InboundHandler,
): Promise<void> {
  const started = performance.now();
  const known = isClientEvent(eventName);
  const event = known ? eventName : eventName.slice(0, MAX_ECHOED_EVENT_NAME);
  const metricEvent = known ? eventName : 'unknown';
  const { payload, ack } = splitArgs(args);
  ctx.metrics.eventsIn.inc({ event: metricEvent });
  if (ctx.log.isLevelEnabled('debug')) ctx.log.debug({ socketId: socket.id, event }, 'event received');

  let response: { ok: true } | AckError;
  try {
    if (isExpired(socket)) throw new SwitchyardError('TOKEN_EXPIRED');
    if (!ctx.rateLimits.tryTake(socket)) throw new SwitchyardError('RATE_LIMITED');
    if (!known || handler === undefined)
      throw new SwitchyardError('UNKNOWN_EVENT', `${ERRORS.UNKNOWN_EVENT.message}: ${event}`);
    const validator = ctx.validators[eventName as ClientEventName];
    if (!validator.check(payload)) throw validator.refusal(payload);
    response = { ok: true, ...(await handler(socket, payload as never)) };
  } catch (error) {
    const refusal = toRefusal(error);
    countRejection(ctx.metrics, metricEvent, refusal.code);
    // Context is bound here, when there is something to log, not as a child logger per socket.
    const context = { socketId: socket.id, userId: socket.data.user?.id, event };
    if (refusal.code === 'INTERNAL') ctx.log.error({ ...context, err: error }, 'event handler failed');
    else ctx.log.debug({ ...context, code: refusal.code }, 'event refused');
    response = { ok: false, error: refusal.toJSON() };
  }

  if (ack) {
    try {
      ack(response);
    } finally {
      ctx.metrics.ackLatency.observe({ event: metricEvent }, (performance.now() - started) / 1000);
    }
  } else if (!response.ok && socket.connected) {
    socket.emit('gateway:error', { ...response.error, event });
    ctx.metrics.eventsOut.inc({ event: 'gateway:error' });
  }
}

function toRefusal(error: unknown): SwitchyardError {
  if (error instanceof SwitchyardError) return error;
  // Errors from other layers (a store, an adapter) may carry a protocol code without the class.
  const code = (error as { code?: unknown } | null)?.code;
  if (isErrorCode(code)) return new SwitchyardError(code, (error as Error).message || undefined, { cause: error });
  return new SwitchyardError('INTERNAL', undefined, { cause: error });
}
