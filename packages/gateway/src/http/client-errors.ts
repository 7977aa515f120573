import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyBaseLogger, FastifyServerOptions } from 'fastify';
import { ERRORS, type ErrorBody } from '@switchyard/protocol';

/*
 * What Node's HTTP parser refuses before any route sees a request — a request that did not arrive
 * within HTTP_REQUEST_TIMEOUT_MS / HTTP_HEADERS_TIMEOUT_MS, headers over the size limit, bytes that
 * are not HTTP — answered, like every other error, as JSON `{ code, message }`, and the connection
 * closed. Replaces fastify's default handler, whose bodies have another shape.
 */

/** The in-flight response of a connection, which Node keeps on the socket; its headers tell whether one was sent. */
interface ConnectionWithResponse extends Socket {
  _httpMessage?: { headersSent?: boolean } | null;
}

export function clientErrorBody(error: { code?: string }): { status: number; body: ErrorBody } {
  switch (error.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, body: { code: 'REQUEST_TIMEOUT', message: ERRORS.REQUEST_TIMEOUT.message } };
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, body: { code: 'HEADERS_TOO_LARGE', message: ERRORS.HEADERS_TOO_LARGE.message } };
    default:
      return { status: 400, body: { code: 'INVALID_PAYLOAD', message: 'The request is not valid HTTP' } };
  }
}

export function createClientErrorHandler(
  log: FastifyBaseLogger,
): NonNullable<FastifyServerOptions['clientErrorHandler']> {
  return (error, socket) => {
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    const { status, body } = clientErrorBody(error);
    log.debug({ code: body.code, cause: error.code }, 'connection refused');
    // Node's own guard: answer only when no response of this connection has started (a slow body
    // whose request was already answered gets no second answer, just the close).
    const responding = (socket as ConnectionWithResponse)._httpMessage?.headersSent === true;
    if (socket.writable && !responding) {
      const json = JSON.stringify(body);
      socket.write(
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
          `Content-Length: ${Buffer.byteLength(json)}\r\nConnection: close\r\n\r\n${json}`,
      );
    }
    socket.destroy(error);
  };
}
