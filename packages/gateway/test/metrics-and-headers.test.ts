import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/index.js';
import { closeAll, startGateway } from '@switchyard/testkit';

/*
 * /metrics carries prom-client's process and Node.js metrics, and can be kept from the public (a
 * token, or a port of its own); the demo page is served with a CSP, no framing and no referrer.
 */

afterEach(closeAll);

const TOKEN = 'metrics-token-0123456789abcdef';

describe('/metrics', () => {
  it("exports prom-client's process and Node.js metrics next to the gateway's", async () => {
    const { url } = await startGateway();
    const text = await (await fetch(`${url}/metrics`)).text();
    for (const name of [
      'process_cpu_user_seconds_total',
      'process_resident_memory_bytes',
      'process_open_fds',
      'nodejs_heap_size_used_bytes',
      'nodejs_eventloop_lag_seconds',
      'nodejs_active_handles_total',
      'switchyard_connections',
    ])
      expect(text).toMatch(new RegExp(`^${name}(\\{[^}]*\\})? `, 'm'));
  });

  it('with METRICS_TOKEN, requires it as a bearer token', async () => {
    const { url } = await startGateway({ METRICS_TOKEN: TOKEN });
    const missing = await fetch(`${url}/metrics`);
    expect(missing.status).toBe(401);
    expect(await missing.json()).toEqual({ code: 'AUTH_REQUIRED', message: expect.any(String) });
    const wrong = await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer not-the-metrics-token' } });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toEqual({ code: 'AUTH_INVALID', message: expect.any(String) });
    const right = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(right.status).toBe(200);
    expect(await right.text()).toMatch(/^switchyard_connections/m);
  });

  it('with METRICS_PORT, serves it on that port only', async () => {
    const { url, metricsUrl } = await startGateway({ METRICS_PORT: '0', METRICS_TOKEN: TOKEN });
    expect(metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    expect(new URL(metricsUrl ?? '').port).not.toBe(new URL(url).port);
    const onMain = await fetch(`${url}/metrics`);
    expect(onMain.status).toBe(404);
    expect(await onMain.json()).toMatchObject({ code: 'NOT_FOUND' });
    expect((await fetch(metricsUrl ?? '')).status).toBe(401);
    const served = await fetch(metricsUrl ?? '', { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(served.status).toBe(200);
    expect(await served.text()).toMatch(/^nodejs_heap_size_used_bytes/m);
  });

  it('refuses METRICS_PORT with worker processes, and a short token', () => {
    expect(() => loadConfig({ METRICS_PORT: '9100', GATEWAY_WORKERS: '2' })).toThrow(
      /METRICS_PORT: expected to be unset/,
    );
    expect(() => loadConfig({ METRICS_TOKEN: 'short' })).toThrow(
      /METRICS_TOKEN: expected .* got <hidden, 5 characters>/,
    );
  });
});

describe('the demo page', () => {
  it.each(['/', '/demo/app.js', '/demo/style.css'])('%s comes with a CSP, no framing and no referrer', async (path) => {
    const { url } = await startGateway();
    const response = await fetch(`${url}${path}`);
    expect(response.status).toBe(200);
    const csp = response.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(response.headers.get('x-frame-options')).toBe('DENY');
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('the API keeps its own headers', async () => {
    const { url } = await startGateway();
    const response = await fetch(`${url}/v1/openapi.json`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-security-policy')).toBeNull();
  });
});
