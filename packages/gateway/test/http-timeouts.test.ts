import { connect as tcpConnect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/index.js';
import {
  API_KEY,
  closeAll,
  connect,
  openStream,
  publish,
  recordEvents,
  request,
  startGateway,
  TRANSPORTS,
} from '@switchyard/testkit';

/*
 * Slow clients are bounded: a request (headers and body) must arrive within HTTP_REQUEST_TIMEOUT_MS,
 * its headers within HTTP_HEADERS_TIMEOUT_MS — while what is meant to last (long-poll GETs, SSE
 * streams, WebSockets) is never cut.
 */

afterEach(closeAll);

interface RawConnection {
  socket: Socket;
  answer(): string;
  closed: Promise<void>;
}

function rawConnection(url: string): Promise<RawConnection> {
  const { hostname, port } = new URL(url);
  const socket = tcpConnect({ host: hostname, port: Number(port) });
  let answer = '';
  socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return new Promise((resolve) => socket.once('connect', () => resolve({ socket, answer: () => answer, closed })));
}

/** Sends one byte every `everyMs` until the connection closes. */
function trickle(socket: Socket, everyMs: number): void {
  const timer = setInterval(() => (socket.writable ? socket.write('x') : clearInterval(timer)), everyMs);
  socket.once('close', () => clearInterval(timer));
}

function jsonBodyOf(answer: string): unknown {
  return JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4));
}

describe('request timeouts', () => {
  it('a publish whose body trickles in is answered 408 REQUEST_TIMEOUT and closed', async () => {
    const { url } = await startGateway({
      API_KEYS: API_KEY,
      HTTP_REQUEST_TIMEOUT_MS: '1000',
      HTTP_HEADERS_TIMEOUT_MS: '500',
    });
    const slow = await rawConnection(url);
    slow.socket.write(
      'POST /v1/rooms/lobby/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
        `X-API-Key: ${API_KEY}\r\nContent-Length: 100\r\n\r\n{`,
    );
    trickle(slow.socket, 200);
    await slow.closed;
    expect(slow.answer()).toMatch(/^HTTP\/1\.1 408 /);
    expect(jsonBodyOf(slow.answer())).toEqual({ code: 'REQUEST_TIMEOUT', message: expect.any(String) });
  });

  it('a polling POST for an unknown session, answered 400 at once, is closed when its body never finishes', async () => {
    const { url } = await startGateway({ HTTP_REQUEST_TIMEOUT_MS: '1000', HTTP_HEADERS_TIMEOUT_MS: '500' });
    const slow = await rawConnection(url);
    slow.socket.write(
      'POST /socket.io/?EIO=4&transport=polling&sid=made-up HTTP/1.1\r\nHost: x\r\n' +
        'Content-Type: text/plain\r\nContent-Length: 100\r\n\r\n4',
    );
    trickle(slow.socket, 200);
    await slow.closed;
    // One answer, engine.io's: the timeout adds none to a request already answered.
    expect(slow.answer().match(/HTTP\/1\.1 /g)).toHaveLength(1);
    expect(slow.answer()).toMatch(/^HTTP\/1\.1 400 /);
  });

  it('headers that never finish are answered 408 REQUEST_TIMEOUT', async () => {
    const { url } = await startGateway({ HTTP_REQUEST_TIMEOUT_MS: '1000', HTTP_HEADERS_TIMEOUT_MS: '500' });
    const slow = await rawConnection(url);
    slow.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ');
    trickle(slow.socket, 100);
    await slow.closed;
    expect(slow.answer()).toMatch(/^HTTP\/1\.1 408 /);
  });

  it.each(TRANSPORTS)('never cut a %s session, an SSE stream or their held requests', async (transport) => {
    const { url } = await startGateway({
      HTTP_REQUEST_TIMEOUT_MS: '300',
      HTTP_HEADERS_TIMEOUT_MS: '200',
      API_KEYS: API_KEY,
    });
    const alice = await connect(url, { transports: [transport], auth: { name: 'alice' } });
    const disconnects = recordEvents(alice, 'disconnect' as never);
    await request(alice, 'room:join', { room: 'lobby' });
    const stream = await openStream(`${url}/v1/rooms/lobby/events`);
    // Several request deadlines (and Node's checks of them) pass while the long-poll GET and the stream are held.
    await sleep(1500);
    expect(disconnects).toEqual([]);
    expect(alice.connected).toBe(true);
    expect((await publish(url, 'lobby', { text: 'still here' })).status).toBe(201);
    await stream.waitForEvents('message:new', 1);
    expect(await request(alice, 'history:fetch', { room: 'lobby' })).toMatchObject({ ok: true });
  });
});

describe('silent connections', () => {
  it('answers a connection that never sends a byte 408 REQUEST_TIMEOUT once the headers deadline passed', async () => {
    const { url } = await startGateway({ HTTP_REQUEST_TIMEOUT_MS: '1000', HTTP_HEADERS_TIMEOUT_MS: '500' });
    const silent = await rawConnection(url);
    await silent.closed;
    expect(silent.answer()).toMatch(/^HTTP\/1\.1 408 /);
  });
});

describe('timeout configuration', () => {
  it('refuses headers allowed longer than the whole request', () => {
    expect(() => loadConfig({ HTTP_REQUEST_TIMEOUT_MS: '1000', HTTP_HEADERS_TIMEOUT_MS: '2000' })).toThrow(
      /HTTP_HEADERS_TIMEOUT_MS: expected .*at most HTTP_REQUEST_TIMEOUT_MS/,
    );
  });
});
