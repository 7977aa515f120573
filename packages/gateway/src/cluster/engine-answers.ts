import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { ERRORS, type ErrorCode } from '@switchyard/protocol';

/*
 * The answers a node gives, on behalf of Engine.IO, to requests it cannot pass on. "Session ID unknown"
 * is exactly what engine.io answers for a session it does not hold (so a client whose owner node is
 * gone sees what it would have seen without forwarding, and reconnects); test/session-routing.test.ts
 * compares the two byte for byte. The others carry our error table's code, as every gateway error does.
 */

/** engine.io's `Server.errors.UNKNOWN_SID` and its message: part of the Engine.IO wire protocol. */
const UNKNOWN_SID = { code: 1, message: 'Session ID unknown' } as const;

export function sessionUnknown(res: ServerResponse): void {
  res.writeHead(400, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(UNKNOWN_SID));
}

/** The same for an upgrade, as engine.io's `abortUpgrade` writes it on the raw socket. */
export function sessionUnknownUpgrade(socket: Duplex): void {
  writeRaw(socket, 400, 'Bad Request', { 'Content-type': 'text/html' }, UNKNOWN_SID.message);
}

export function errorAnswer(res: ServerResponse, code: ErrorCode, headers: Record<string, string> = {}): void {
  const { status, message } = ERRORS[code];
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(JSON.stringify({ code, message }));
}

export function errorAnswerUpgrade(socket: Duplex, code: ErrorCode, headers: Record<string, string> = {}): void {
  const { status, message } = ERRORS[code];
  writeRaw(
    socket,
    status,
    REASONS[status] ?? 'Error',
    { 'Content-Type': 'application/json', ...headers },
    JSON.stringify({ code, message }),
  );
}

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  403: 'Forbidden',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

function writeRaw(socket: Duplex, status: number, reason: string, headers: Record<string, string>, body: string): void {
  socket.on('error', () => undefined);
  if (socket.writable) {
    const head = Object.entries({ Connection: 'close', ...headers, 'Content-Length': String(Buffer.byteLength(body)) })
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join('');
    // end(), not write() then destroy(): what is still buffered would be lost.
    socket.end(`HTTP/1.1 ${status} ${reason}\r\n${head}\r\n${body}`);
    socket.once('finish', () => socket.destroy());
    return;
  }
  socket.destroy();
}
