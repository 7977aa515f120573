/**
 * The one error table of Switchyard. Sockets get `{ ok: false, error: { code, message } }`,
 * HTTP gets the same `code` in a JSON body with `status`. Codes are stable and never reused.
 */
export const ERRORS = {
  INVALID_PAYLOAD: {
    code: 'INVALID_PAYLOAD',
    status: 400,
    message: 'The payload does not match the schema of this event or route',
  },
  INVALID_ROOM: { code: 'INVALID_ROOM', status: 400, message: 'Room names are 1-64 letters, digits or _ . : -' },
  UNKNOWN_EVENT: { code: 'UNKNOWN_EVENT', status: 400, message: 'This event is not part of the protocol' },
  NOT_IN_ROOM: { code: 'NOT_IN_ROOM', status: 403, message: 'Join the room before using it' },
  MESSAGE_TOO_LONG: { code: 'MESSAGE_TOO_LONG', status: 413, message: 'The message text is longer than allowed' },
  PAYLOAD_TOO_LARGE: { code: 'PAYLOAD_TOO_LARGE', status: 413, message: 'The request body is larger than allowed' },
  HEADERS_TOO_LARGE: { code: 'HEADERS_TOO_LARGE', status: 431, message: 'The request headers are larger than allowed' },
  TOO_MANY_ROOMS: { code: 'TOO_MANY_ROOMS', status: 409, message: 'This socket has joined as many rooms as allowed' },
  TOO_MANY_SOCKETS: {
    code: 'TOO_MANY_SOCKETS',
    status: 409,
    message: 'This user has as many open connections as allowed',
  },
  RATE_LIMITED: { code: 'RATE_LIMITED', status: 429, message: 'Too many events; slow down' },
  AUTH_REQUIRED: { code: 'AUTH_REQUIRED', status: 401, message: 'A token is required' },
  AUTH_INVALID: { code: 'AUTH_INVALID', status: 401, message: 'The token is invalid' },
  AUTH_EXPIRED: { code: 'AUTH_EXPIRED', status: 401, message: 'The token has expired' },
  TOKEN_EXPIRED: {
    code: 'TOKEN_EXPIRED',
    status: 401,
    message: 'The token expired during the connection; reconnect with a fresh one',
  },
  FORBIDDEN: { code: 'FORBIDDEN', status: 403, message: 'Not allowed' },
  NOT_FOUND: { code: 'NOT_FOUND', status: 404, message: 'No such resource' },
  SHUTTING_DOWN: {
    code: 'SHUTTING_DOWN',
    status: 503,
    message: 'The gateway is shutting down; reconnect to another node',
  },
  SLOW_CONSUMER: {
    code: 'SLOW_CONSUMER',
    status: 503,
    message: 'The client fell too far behind and was disconnected; reconnect and resume',
  },
  TIMEOUT: { code: 'TIMEOUT', status: 504, message: 'No answer from the gateway in time' },
  REQUEST_TIMEOUT: { code: 'REQUEST_TIMEOUT', status: 408, message: 'The request did not arrive in time' },
  DISCONNECTED: { code: 'DISCONNECTED', status: 503, message: 'Not connected to the gateway' },
  NOT_READY: {
    code: 'NOT_READY',
    status: 503,
    message: 'This node cannot reach the cluster right now; try another node',
  },
  OVERLOADED: {
    code: 'OVERLOADED',
    status: 503,
    message: 'This node is busy with other handshakes; retry after the delay it gives',
  },
  INTERNAL: { code: 'INTERNAL', status: 500, message: 'Internal error' },
} as const;

export type ErrorCode = keyof typeof ERRORS;

export interface ErrorBody {
  code: ErrorCode;
  message: string;
}

/** An error that carries a stable `code` across the wire. */
export class SwitchyardError extends Error {
  readonly code: ErrorCode;
  readonly status: number;

  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown }) {
    super(message ?? ERRORS[code].message, options);
    this.name = 'SwitchyardError';
    this.code = code;
    this.status = ERRORS[code].status;
  }

  toJSON(): ErrorBody {
    return { code: this.code, message: this.message };
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERRORS, value);
}
