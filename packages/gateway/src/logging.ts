import { type Logger, type LoggerOptions, pino } from 'pino';
import type { LogLevel } from './config.js';

/*
 * The logging convention: one root pino logger per gateway with the node bound once (`node`),
 * one child per module with its `component` bound once (`rooms`, `sse`, `presence`, ...). A line
 * never repeats what its logger carries. `info` and above say what changed for whom; `debug` traces
 * a message's path (received by the socket transport, stored by the room service, emitted, delivered
 * on each node, offered to SSE streams). What the MongoDB adapter reports (gaps, state changes) it
 * logs itself, under `component: mongo-adapter`; the gateway never logs it again.
 */

/** Log paths that may hold credentials. */
const REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["sec-websocket-protocol"]',
  'headers.authorization',
  'headers.cookie',
  'auth.token',
  'handshake.auth.token',
  'token',
  '*.token',
];

/**
 * The gateway's pino options: credentials redacted, query strings (which may carry SSE
 * `?token=`) left out of request logs. Exported so a caller building its own logger can reuse them.
 */
export function gatewayLoggerOptions(level: LogLevel): LoggerOptions {
  return {
    level,
    redact: { paths: REDACT, censor: '[redacted]' },
    serializers: {
      req: (request: { method: string; url: string; ip?: string }) => ({
        method: request.method,
        url: request.url.split('?')[0],
        remoteAddress: request.ip,
      }),
    },
  };
}

/** The root logger of one node: the caller's (or one built from LOG_LEVEL), with `node` bound. */
export function nodeLogger(nodeId: string, level: LogLevel, given?: Logger): Logger {
  return (given ?? pino(gatewayLoggerOptions(level))).child({ node: nodeId });
}

export type Component =
  | 'admission'
  | 'auth'
  | 'cluster'
  | 'http-api'
  | 'metrics'
  | 'mongo-adapter'
  | 'presence'
  | 'rooms'
  | 'shutdown'
  | 'socket'
  | 'sse'
  | 'workers';

/** A module's logger: `component` bound once. */
export function componentLogger(root: Logger, component: Component): Logger {
  return root.child({ component });
}
