import { request as httpRequest } from 'node:http';
import { connect as tcpConnect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ERRORS } from '@switchyard/protocol';
import { API_KEY, closeAll, openRawWebSocket, publish, startGateway, waitFor } from '@switchyard/testkit';

/*
 * Every HTTP error is JSON `{ code, message }` with a code of the protocol's table and its status —
 * also those fastify's router, Node's HTTP parser and engine.io raise before any route runs, and
 * those of a node that is closing.
 */

afterEach(closeAll);

const ERROR_BODY = { code: expect.any(String), message: expect.any(String) };

async function errorOf(response: Response): Promise<{ status: number; body: Record<string, unknown> }> {
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  const body = (await response.json()) as Record<string, unknown>;
  expect(body).toEqual(ERROR_BODY);
  expect(Object.keys(ERRORS)).toContain(body.code);
  return { status: response.status, body };
}

/** A POST whose body is sent chunked (no Content-Length), as a client streaming it would. */
function chunkedPost(
  url: string,
  path: string,
  body: string,
): Promise<{ status: number; text: string; type?: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { hostname, port, path, method: 'POST', headers: { 'content-type': 'text/plain' } },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text, type: res.headers['content-type'] }));
      },
    );
    req.on('error', reject);
    for (let at = 0; at < body.length; at += 16_384) req.write(body.slice(at, at + 16_384));
    req.end();
  });
}

async function pollingSession(url: string): Promise<string> {
  const open = await (await fetch(`${url}/socket.io/?EIO=4&transport=polling`)).text();
  return (JSON.parse(open.slice(1)) as { sid: string }).sid;
}

describe('room names in the path', () => {
  it.each([65, 100, 101, 1000, 8000])(
    'a room name of %i characters is 400 INVALID_ROOM on every room route',
    async (length) => {
      const { url } = await startGateway({ API_KEYS: API_KEY });
      const room = 'a'.repeat(length);
      const stream = await errorOf(await fetch(`${url}/v1/rooms/${room}/events`));
      expect(stream).toMatchObject({ status: 400, body: { code: 'INVALID_ROOM' } });
      const published = await publish(url, room, { text: 'hi' });
      expect(published).toMatchObject({ status: 400, body: { code: 'INVALID_ROOM' } });
    },
  );

  it('bad percent-encoding is 400 INVALID_ROOM in a room path, 400 INVALID_PAYLOAD elsewhere', async () => {
    const { url } = await startGateway();
    expect(await errorOf(await fetch(`${url}/v1/rooms/%E0%A4%A/events`))).toMatchObject({
      status: 400,
      body: { code: 'INVALID_ROOM' },
    });
    expect(await errorOf(await fetch(`${url}/demo/%E0%A4%A`))).toMatchObject({
      status: 400,
      body: { code: 'INVALID_PAYLOAD' },
    });
  });
});

describe("what Node's HTTP parser refuses", () => {
  it('headers over the size limit are 431 HEADERS_TOO_LARGE', async () => {
    const { url } = await startGateway();
    const response = await fetch(`${url}/healthz`, { headers: { 'x-padding': 'x'.repeat(20_000) } });
    expect(await errorOf(response)).toMatchObject({ status: 431, body: { code: 'HEADERS_TOO_LARGE' } });
  });

  it('bytes that are not HTTP are 400 INVALID_PAYLOAD, and the connection is closed', async () => {
    const { url } = await startGateway();
    const { hostname, port } = new URL(url);
    const socket = tcpConnect({ host: hostname, port: Number(port) });
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.write('\u0000\u0001 not http at all\r\n\r\n');
    await closed;
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toEqual({
      code: 'INVALID_PAYLOAD',
      message: expect.any(String),
    });
  });
});

describe('a long-polling packet over MAX_HTTP_BUFFER_SIZE', () => {
  it('is 413 PAYLOAD_TOO_LARGE with a body, and the session stays usable (declared length)', async () => {
    const { url } = await startGateway({ MAX_HTTP_BUFFER_SIZE: '2048' });
    const sid = await pollingSession(url);
    const session = `${url}/socket.io/?EIO=4&transport=polling&sid=${sid}`;
    const tooLarge = await fetch(session, { method: 'POST', body: `4${'x'.repeat(5000)}` });
    expect(await errorOf(tooLarge)).toMatchObject({ status: 413, body: { code: 'PAYLOAD_TOO_LARGE' } });

    const connected = await fetch(session, { method: 'POST', body: '40' });
    expect(connected.status).toBe(200);
    expect(await connected.text()).toBe('ok');
    expect(await (await fetch(session)).text()).toMatch(/^40\{"sid":/);
  });

  it('is 413 PAYLOAD_TOO_LARGE with a body, and the session stays usable (chunked)', async () => {
    const { url } = await startGateway({ MAX_HTTP_BUFFER_SIZE: '2048' });
    const sid = await pollingSession(url);
    const path = `/socket.io/?EIO=4&transport=polling&sid=${sid}`;
    const tooLarge = await chunkedPost(url, path, `4${'x'.repeat(50_000)}`);
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.type).toMatch(/^application\/json/);
    expect(JSON.parse(tooLarge.text)).toEqual({ code: 'PAYLOAD_TOO_LARGE', message: expect.any(String) });

    const connected = await chunkedPost(url, path, '40');
    expect(connected).toMatchObject({ status: 200, text: 'ok' });
    expect(await (await fetch(`${url}${path}`)).text()).toMatch(/^40\{"sid":/);
  });
});

describe('while the node closes', () => {
  it('keeps /healthz 200, says SHUTTING_DOWN on /readyz, and refuses other requests with SHUTTING_DOWN', async () => {
    const { gateway, url } = await startGateway({ API_KEYS: API_KEY, DRAIN_TIMEOUT_MS: '4000' });
    // A client that never answers holds the drain open for most of DRAIN_TIMEOUT_MS.
    const hung = await openRawWebSocket(url, '/socket.io/?EIO=4&transport=websocket');
    hung.stopReading();
    const closed = gateway.close();
    await waitFor('the node to be closing', async () => (await fetch(`${url}/readyz`)).status === 503);

    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    expect(await errorOf(await fetch(`${url}/readyz`))).toMatchObject({ status: 503, body: { code: 'SHUTTING_DOWN' } });
    expect(await errorOf(await fetch(`${url}/v1/rooms/lobby/events`))).toMatchObject({
      status: 503,
      body: { code: 'SHUTTING_DOWN' },
    });
    expect(await publish(url, 'lobby', { text: 'late' })).toMatchObject({
      status: 503,
      body: { code: 'SHUTTING_DOWN' },
    });
    expect(await errorOf(await fetch(`${url}/no/such/route`))).toMatchObject({
      status: 503,
      body: { code: 'SHUTTING_DOWN' },
    });
    hung.destroy();
    await closed;
  });
});
