import { afterEach, describe, expect, it } from 'vitest';
import { VerificationBudget } from '../src/admission/verifications.js';
import {
  closeAll,
  engineHandshake,
  engineOpen,
  enginePollUntil,
  enginePost,
  metricValue,
  rawHttp,
  startGateway,
  statusOf,
} from '@switchyard/testkit';

/*
 * Handshake admission control: a node takes at most HANDSHAKE_MAX_CONCURRENT handshakes at once and
 * answers the others 503 OVERLOADED with Retry-After before doing any work for them, over polling and
 * WebSocket alike; sessions already open are never refused, and the node stays ready.
 */

afterEach(closeAll);

const UPGRADE_HANDSHAKE =
  'GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: gateway\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';

describe('handshake admission', () => {
  it('refuses handshakes over the budget with 503 and Retry-After, and takes them again once one completes', async () => {
    const { url, port } = await startGateway({ HANDSHAKE_MAX_CONCURRENT: '1', HANDSHAKE_RETRY_AFTER_S: '3' });
    // A session whose Socket.IO connect has not come yet holds the only slot.
    const holder = await engineOpen(url);

    const refused = await engineHandshake(url);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('3');
    expect(JSON.parse(refused.body)).toEqual({ code: 'OVERLOADED', message: expect.any(String) });
    const upgrade = await rawHttp(port, UPGRADE_HANDSHAKE);
    expect(upgrade.split('\r\n')[0]).toBe('HTTP/1.1 503 Service Unavailable');
    expect(upgrade).toMatch(/\r\nRetry-After: 3\r\n/);
    expect(upgrade).toContain('"code":"OVERLOADED"');

    // Busy is not broken, and the open session is served.
    expect(await statusOf(`${url}/readyz`)).toBe(200);
    expect((await enginePost(url, holder, ['40{"name":"Ada"}'])).body).toBe('ok');
    await enginePollUntil(url, holder, (packet) => packet.startsWith('40'));

    // Its Socket.IO connection is made: the slot is free again.
    expect((await engineHandshake(url)).status).toBe(200);
    expect(await metricValue(url, 'switchyard_connections_refused_total', '{code="OVERLOADED"}')).toBe(2);
    expect(await metricValue(url, 'switchyard_handshakes_in_flight_peak')).toBe(1);
  });

  it('gives the slot back when the session closes before connecting', async () => {
    const { url } = await startGateway({ HANDSHAKE_MAX_CONCURRENT: '1' });
    const holder = await engineOpen(url);
    expect((await engineHandshake(url)).status).toBe(503);
    await enginePost(url, holder, ['1']); // Engine.IO close
    expect((await engineHandshake(url)).status).toBe(200);
  });
});

describe('JWT verification budget', () => {
  it('runs at most its bound at once, queues a bounded number, and refuses the rest with OVERLOADED', async () => {
    const budget = new VerificationBudget(2, 1);
    let running = 0;
    let most = 0;
    const releases: Array<() => void> = [];
    const verify = budget.wrap(
      (token: string) =>
        new Promise<string>((resolve) => {
          running += 1;
          most = Math.max(most, running);
          releases.push(() => {
            running -= 1;
            resolve(token);
          });
        }),
    );
    const first = [verify('a'), verify('b'), verify('c')];
    await expect(verify('d')).rejects.toMatchObject({ code: 'OVERLOADED' });
    expect(budget.running).toBe(2);
    expect(budget.queued).toBe(1);
    while (releases.length > 0 || running > 0) {
      releases.shift()?.();
      await new Promise((resolve) => setImmediate(resolve));
    }
    await expect(Promise.all(first)).resolves.toEqual(['a', 'b', 'c']);
    expect(most).toBe(2);
  });
});
