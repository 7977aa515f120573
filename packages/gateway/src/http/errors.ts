import type { FastifyError, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { ERRORS, type ErrorBody, type ErrorCode, SwitchyardError } from '@switchyard/protocol';

/*
 * Every HTTP error is JSON `{ code, message }` with a code from the protocol's table.
 * Registered with fastify-plugin so the handlers apply to every route of the gateway.
 */

const CODE_BY_STATUS: Record<number, ErrorCode> = {
  401: 'AUTH_REQUIRED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  413: 'PAYLOAD_TOO_LARGE',
  429: 'RATE_LIMITED',
  503: 'SHUTTING_DOWN',
  504: 'TIMEOUT',
};

export function httpErrorOf(error: FastifyError | SwitchyardError): { status: number; body: ErrorBody } {
  if (error instanceof SwitchyardError) return { status: error.status, body: error.toJSON() };
  if (error.validation) return { status: 400, body: { code: 'INVALID_PAYLOAD', message: error.message } };
  const status =
    typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500;
  if (status >= 500 && status !== 503 && status !== 504)
    return { status: 500, body: { code: 'INTERNAL', message: ERRORS.INTERNAL.message } };
  const code = CODE_BY_STATUS[status] ?? 'INVALID_PAYLOAD';
  // fastify's own 4xx messages ("Unsupported Media Type", "Body is too large") are safe and useful.
  return { status, body: { code, message: error.message || ERRORS[code].message } };
}

/**
 * Errors fastify's router raises before any route runs (`frameworkErrors`): bad percent-encoding
 * (FST_ERR_BAD_URL) and a path parameter over the router's bound (FST_ERR_MAX_PARAM_LENGTH). A
 * room path gets INVALID_ROOM, as a malformed room name in a well-formed URL does; others
 * INVALID_PAYLOAD.
 */
export function routerErrorOf(error: FastifyError, url: string): { status: number; body: ErrorBody } {
  const path = url.split('?')[0] ?? '';
  const code: ErrorCode = path.startsWith('/v1/rooms/') ? 'INVALID_ROOM' : 'INVALID_PAYLOAD';
  const why =
    error.code === 'FST_ERR_BAD_URL' ? 'the URL is not validly percent-encoded' : 'a path segment is too long';
  return { status: 400, body: { code, message: `${ERRORS[code].message} (${why})` } };
}

export function frameworkErrorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const { status, body } = routerErrorOf(error, request.raw.url ?? '');
  request.log.info({ code: body.code, cause: error.code }, 'request refused');
  void reply.code(status).send(body);
}

export const errorsPlugin: FastifyPluginAsync = fp(
  async (app) => {
    app.setErrorHandler<FastifyError | SwitchyardError>((error, request, reply) => {
      const { status, body } = httpErrorOf(error);
      // A refusal that knows when to come back (a throttled address) says so.
      const retryAfterMs = (error as { retryAfterMs?: unknown }).retryAfterMs;
      if (typeof retryAfterMs === 'number')
        void reply.header('retry-after', Math.max(1, Math.ceil(retryAfterMs / 1000)));
      if (status >= 500) request.log.error({ err: error }, 'request failed');
      else request.log.info({ code: body.code }, 'request refused');
      return reply.code(status).send(body);
    });
    app.setNotFoundHandler((request, reply) =>
      reply.code(404).send({
        code: 'NOT_FOUND',
        message: `${ERRORS.NOT_FOUND.message}: ${request.method} ${(request.url.split('?')[0] ?? '').slice(0, 200)}`,
      }),
    );
  },
  { name: 'switchyard-errors', fastify: '5.x' },
);
