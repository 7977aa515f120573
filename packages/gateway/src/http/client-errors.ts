import { type IncomingMessage, type Server as HttpServer, type ServerResponse, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyBaseLogger, FastifyServerOptions } from 'fastify';
import { ERRORS, type ErrorBody } from '@switchyard/protocol';

/*
 * What Node's HTTP parser refuses before any route sees a request — a request that did not arrive
 * within HTTP_REQUEST_TIMEOUT_MS / HTTP_HEADERS_TIMEOUT_MS, headers over the size limit, bytes that
 * are not HTTP — answered, like every other error, as JSON `{ code, message }`, and the connection
 * closed. Replaces fastify's default handler, whose bodies have another shape.
 */

/**
 * The last request each connection delivered to the app, and its response. A deadline can pass
 * while a request that was already answered still trickles its body in (engine.io answers an
 * unknown session at once, without reading the body): that connection is closed without a second
 * answer, which the client would take for the answer to its next request.
 */
export class Answers {
  readonly #last = new WeakMap<Socket, { req: IncomingMessage; res: ServerResponse }>();

  /** Watches every request the server delivers (an observer: it answers nothing). */
  observe(server: HttpServer): void {
    server.on('request', (req: IncomingMessage, res: ServerResponse) => this.#last.set(req.socket, { req, res }));
  }

  /** Whether the connection's request still being received was already answered. */
  answeredMidRequest(socket: Socket): boolean {
    const last = this.#last.get(socket);
    return last !== undefined && !last.req.complete && last.res.headersSent;
  }
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
  answers: Answers,
): NonNullable<FastifyServerOptions['clientErrorHandler']> {
  return (error, socket) => {
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    const { status, body } = clientErrorBody(error);
    log.debug({ code: body.code, cause: error.code }, 'connection refused');
    if (socket.writable && !answers.answeredMidRequest(socket)) {
      const json = JSON.stringify(body);
      socket.write(
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
          `Content-Length: ${Buffer.byteLength(json)}\r\nConnection: close\r\n\r\n${json}`,
      );
    }
    socket.destroy(error);
  };
}
