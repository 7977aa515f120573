import type { IncomingMessage, ServerResponse } from 'node:http';
import { ERRORS, type ErrorBody } from '@switchyard/protocol';
import type { GatewayServer } from '../types.js';

/*
 * A long-polling POST over MAX_HTTP_BUFFER_SIZE: engine.io answers `413` with an empty body and
 * keeps the session (the client may send again; a WebSocket frame that large closes the connection
 * instead). This gives that answer the protocol's body, `{ code: 'PAYLOAD_TOO_LARGE', message }`,
 * through an engine.io middleware (`io.engine.use`, run before engine.io handles a request): a
 * declared Content-Length over the bound is answered here before the body is read, and a chunked
 * body that grows past it gets its 413 from engine.io dressed on the way out.
 */

const BODY: ErrorBody = {
  code: 'PAYLOAD_TOO_LARGE',
  message: `${ERRORS.PAYLOAD_TOO_LARGE.message} (MAX_HTTP_BUFFER_SIZE)`,
};
const JSON_BODY = JSON.stringify(BODY);
const HEADERS = {
  'content-type': 'application/json; charset=utf-8',
  'content-length': String(Buffer.byteLength(JSON_BODY)),
};

export function answerOversizedPolls(io: GatewayServer, maxHttpBufferSize: number): void {
  io.engine.use((req: IncomingMessage, res: ServerResponse, next: (err?: Error) => void) => {
    if (req.method !== 'POST') return next();
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxHttpBufferSize) {
      // Engine.IO has not seen the request: the session is untouched, as when engine.io refuses it.
      res.writeHead(413, { ...HEADERS, connection: 'close' }).end(JSON_BODY);
      return;
    }
    dressBareRefusal(res);
    next();
  });
}

/** engine.io's `res.writeHead(413).end()` of a chunked body over the bound, with the body. */
function dressBareRefusal(res: ServerResponse): void {
  const writeHead = res.writeHead;
  const end = res.end;
  let dressed = false;
  res.writeHead = function (this: ServerResponse, status: number, ...rest: unknown[]) {
    if (status !== 413 || rest.length > 0)
      return (writeHead as (...args: unknown[]) => ServerResponse).call(this, status, ...rest);
    dressed = true;
    return writeHead.call(this, 413, HEADERS);
  } as ServerResponse['writeHead'];
  res.end = function (this: ServerResponse, ...args: unknown[]) {
    if (dressed && (args.length === 0 || typeof args[0] === 'function'))
      return (end as (...a: unknown[]) => ServerResponse).call(this, JSON_BODY);
    return (end as (...a: unknown[]) => ServerResponse).call(this, ...args);
  } as ServerResponse['end'];
}
