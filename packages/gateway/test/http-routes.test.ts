import { mkdir, mkdtemp, readFile, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { METRIC_NAMES } from '../src/index.js';
import { installedSdkDir } from '../src/demo/assets.js';
import { closeAll, connect, request, send, startGateway, waitFor } from '@switchyard/testkit';

afterEach(closeAll);

/** fetch() normalizes `..` away; a raw request sends the path as written. */
function rawGet(url: string, path: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ hostname, port, path, method: 'GET' }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('listen', () => {
  it('returns a loopback URL with the bound port when listening on all interfaces with PORT 0', async () => {
    const { url } = await startGateway({ HOST: '0.0.0.0' });
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(url).not.toMatch(/:0$/);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });
});

describe('health and readiness', () => {
  it('answers /healthz and /readyz with 200 while running', async () => {
    const { url } = await startGateway();
    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });
  });
});

describe('/metrics', () => {
  it('exposes connections by transport, events in/out, rejections, ack latency and rooms after traffic', async () => {
    const { url } = await startGateway();
    const alice = await connect(url, { transports: ['websocket'], auth: { name: 'alice' } });
    await connect(url, { transports: ['polling'], auth: { name: 'bob' } });
    await request(alice, 'room:join', { room: 'lobby' });
    await request(alice, 'message:send', { room: 'lobby', text: 'hi', clientMessageId: 'm1' });
    await request(alice, 'typing', { room: 'nowhere' });
    send(alice, 'bogus');
    const response = await fetch(`${url}/metrics`);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);

    const text = await waitFor('the unknown event to be counted', async () => {
      const body = await (await fetch(`${url}/metrics`)).text();
      return body.includes('code="UNKNOWN_EVENT"') ? body : undefined;
    });
    expect(text).toContain(`${METRIC_NAMES.connections}{transport="websocket"} 1`);
    expect(text).toContain(`${METRIC_NAMES.connections}{transport="polling"} 1`);
    expect(text).toContain(`${METRIC_NAMES.eventsIn}{event="room:join"} 1`);
    expect(text).toContain(`${METRIC_NAMES.eventsIn}{event="message:send"} 1`);
    expect(text).toContain(`${METRIC_NAMES.eventsIn}{event="unknown"} 1`);
    expect(text).toContain(`${METRIC_NAMES.eventsOut}{event="message:new"} 1`);
    expect(text).toContain(`${METRIC_NAMES.rejected}{event="typing",code="NOT_IN_ROOM"} 1`);
    expect(text).toContain(`${METRIC_NAMES.rejected}{event="unknown",code="UNKNOWN_EVENT"} 1`);
    expect(text).toContain(`${METRIC_NAMES.ackLatency}_count{event="message:send"} 1`);
    expect(text).toContain(`${METRIC_NAMES.rooms} 1`);
  });

  it('keeps the metrics of two gateways in one process apart', async () => {
    const one = await startGateway();
    const two = await startGateway();
    const alice = await connect(one.url, { transports: ['websocket'] });
    await request(alice, 'room:join', { room: 'lobby' });
    expect(await (await fetch(`${one.url}/metrics`)).text()).toContain(`${METRIC_NAMES.eventsIn}{event="room:join"} 1`);
    expect(await (await fetch(`${two.url}/metrics`)).text()).not.toContain(
      `${METRIC_NAMES.eventsIn}{event="room:join"}`,
    );
  });
});

describe('HTTP errors', () => {
  it('answers unknown routes with a JSON NOT_FOUND', async () => {
    const { url } = await startGateway();
    const response = await fetch(`${url}/no/such/route?token=secret`);
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ code: 'NOT_FOUND', message: expect.stringContaining('/no/such/route') });
  });
});

describe('CORS', () => {
  // Raw handshakes leave engine.io sessions that nobody polls: do not wait long for them on close.
  const QUICK_DRAIN = { DRAIN_TIMEOUT_MS: '200' };

  it('sends CORS headers only for configured origins, on fastify routes and Socket.IO', async () => {
    const { url } = await startGateway({ CORS_ORIGINS: 'https://app.example', ...QUICK_DRAIN });
    const allowed = await fetch(`${url}/healthz`, { headers: { origin: 'https://app.example' } });
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example');
    const other = await fetch(`${url}/healthz`, { headers: { origin: 'https://evil.example' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();

    const handshake = await fetch(`${url}/socket.io/?EIO=4&transport=polling`, {
      headers: { origin: 'https://app.example' },
    });
    expect(handshake.status).toBe(200);
    expect(handshake.headers.get('access-control-allow-origin')).toBe('https://app.example');
    const refused = await fetch(`${url}/socket.io/?EIO=4&transport=polling`, {
      headers: { origin: 'https://evil.example' },
    });
    expect(refused.status).toBe(403);
  });

  it('allows same-origin handshakes and refuses cross-origin ones by default', async () => {
    const { url } = await startGateway(QUICK_DRAIN);
    const host = new URL(url).host;
    const same = await fetch(`${url}/socket.io/?EIO=4&transport=polling`, { headers: { origin: `http://${host}` } });
    expect(same.status).toBe(200);
    const cross = await fetch(`${url}/socket.io/?EIO=4&transport=polling`, {
      headers: { origin: 'https://elsewhere.example' },
    });
    expect(cross.status).toBe(403);
    expect(await (await fetch(`${url}/metrics`)).text()).toContain(
      'switchyard_connections_refused_total{code="FORBIDDEN"} 1',
    );
  });
});

describe('demo page', () => {
  let dir: string;
  let outside: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'switchyard-demo-'));
    outside = await mkdtemp(join(tmpdir(), 'switchyard-outside-'));
    await writeFile(join(dir, 'index.html'), '<!doctype html><title>switchyard demo</title>');
    await mkdir(join(dir, 'js'));
    await writeFile(join(dir, 'js', 'app.js'), 'console.log("demo")');
    await writeFile(join(dir, '.env'), 'SECRET=1');
    await writeFile(join(outside, 'secret.txt'), 'outside');
    await symlink(join(outside, 'secret.txt'), join(dir, 'link.txt'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
    await rm(outside, { recursive: true, force: true });
  });

  it('serves index.html at / and other demo files under /demo/', async () => {
    const { url } = await startGateway({}, { demo: { dir } });
    const page = await fetch(`${url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await page.text()).toContain('switchyard demo');
    const script = await fetch(`${url}/demo/js/app.js`);
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await script.text()).toBe('console.log("demo")');
  });

  it('never serves files outside the demo directory, hidden files or missing files', async () => {
    const { url } = await startGateway({}, { demo: { dir } });
    for (const path of [
      '/demo/../package.json',
      '/demo/%2e%2e/%2e%2e/package.json',
      '/demo/..%2f..%2fpackage.json',
      '/demo/.env',
      '/demo/link.txt',
      '/demo/missing.js',
      '/demo/js',
    ]) {
      const response = await rawGet(url, path);
      expect({ path, status: response.status }).toEqual({ path, status: 404 });
      expect(JSON.parse(response.body)).toMatchObject({ code: 'NOT_FOUND' });
    }
  });

  it('answers /sdk/switchyard.js and /sdk/subscribe.js with NOT_FOUND telling to build when missing, and serves them when present', async () => {
    const missing = await startGateway({}, { demo: { dir, sdkDir: join(dir, 'nope') } });
    for (const name of ['switchyard.js', 'subscribe.js']) {
      const response = await fetch(`${missing.url}/sdk/${name}`);
      expect(response.status).toBe(404);
      expect(await response.json()).toEqual({ code: 'NOT_FOUND', message: expect.stringContaining('pnpm build') });
    }

    const sdkDir = join(dir, 'sdk');
    await mkdir(sdkDir, { recursive: true });
    await writeFile(join(sdkDir, 'switchyard.js'), 'export const sdk = 1;');
    await writeFile(join(sdkDir, 'subscribe.js'), 'export const subscribe = 1;');
    const present = await startGateway({}, { demo: { dir, sdkDir } });
    for (const [name, body] of [
      ['switchyard.js', 'export const sdk = 1;'],
      ['subscribe.js', 'export const subscribe = 1;'],
    ] as const) {
      const bundle = await fetch(`${present.url}/sdk/${name}`);
      expect(bundle.status).toBe(200);
      expect(bundle.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
      expect(await bundle.text()).toBe(body);
    }
    expect((await fetch(`${present.url}/sdk/other.js`)).status).toBe(404);
  });

  it("looks for the SDK bundles in the installed @switchyard/client's dist/browser by default", async () => {
    // Resolved as a dependency (node_modules/@switchyard/client), which here links to packages/client.
    const clientPackage = await realpath(fileURLToPath(new URL('../../client/', import.meta.url)));
    expect(installedSdkDir()).toBe(join(clientPackage, 'dist', 'browser'));
  });

  it("serves this package's demo/index.html at / by default", async () => {
    const expected = await readFile(new URL('../demo/index.html', import.meta.url), 'utf8');
    const { url } = await startGateway();
    const page = await fetch(`${url}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toBe(expected);
  });

  it('answers / with NOT_FOUND when the demo directory has no index.html', async () => {
    const { url } = await startGateway({}, { demo: { dir: outside } });
    const response = await fetch(`${url}/`);
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ code: 'NOT_FOUND' });
  });
});
