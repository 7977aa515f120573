import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createForwardSigner, FORWARD_HEADER } from '../src/cluster/forward-signature.js';
import {
  closeAll,
  engineOpen,
  enginePoll,
  enginePollUntil,
  enginePost,
  engineUpgrade,
  metricValue,
  MongoStandIn,
  rawHttp,
  type StartedGateway,
  startMongoGateways,
} from '@switchyard/testkit';

/*
 * Forwarding between nodes, spoken in raw Engine.IO so that a session opened on one node can be used
 * on another on purpose: polling GETs and POSTs and the WebSocket upgrade that reach a node which does
 * not own the session are answered by the owner; a forged forward is refused; a session whose owner
 * is gone gets engine.io's own "Session ID unknown". Two gateways in MongoDB mode on the stand-in.
 */

const SECRET = 'cluster-secret-for-tests-0123456789abcdef';
let mongo: MongoStandIn;
let db = 0;

beforeAll(async () => {
  mongo = await MongoStandIn.start();
});
afterAll(async () => {
  await mongo?.stop();
});
afterEach(closeAll);

async function twoNodes(env: Record<string, string> = {}): Promise<[StartedGateway, StartedGateway]> {
  const [a, b] = await startMongoGateways(mongo, `routing${++db}`, ['na', 'nb'], { CLUSTER_SECRET: SECRET, ...env });
  return [a as StartedGateway, b as StartedGateway];
}

/** Socket.IO's connect, then `room:join` with ack id 1, all through `via`. */
async function connectAndJoin(via: string, sid: string, room: string): Promise<void> {
  expect((await enginePost(via, sid, ['40{"name":"Ada","userId":"ada"}'])).body).toBe('ok');
  await enginePollUntil(via, sid, (packet) => packet.startsWith('40'));
  expect((await enginePost(via, sid, [`421["room:join",{"room":"${room}"}]`])).body).toBe('ok');
  const ack = await enginePollUntil(via, sid, (packet) => packet.startsWith('431'));
  expect(JSON.parse(ack.slice(3))).toEqual([expect.objectContaining({ ok: true, room })]);
}

describe('a session used through a node that does not own it', () => {
  it('answers long-poll GETs and POSTs from the owner, as if they had gone there', async () => {
    const [a, b] = await twoNodes();
    const sid = await engineOpen(a.url);
    expect(sid.endsWith('.na')).toBe(true);
    await connectAndJoin(b.url, sid, 'lobby');
    // The session lives on A only; B forwarded every request.
    expect(a.gateway.io.engine.clientsCount).toBe(1);
    expect(b.gateway.io.engine.clientsCount).toBe(0);
    const forwarded = await metricValue(
      b.url,
      'switchyard_forwarded_requests_total',
      '{kind="send",outcome="forwarded"}',
    );
    expect(forwarded).toBeGreaterThanOrEqual(2);
    expect(
      await metricValue(b.url, 'switchyard_forwarded_requests_total', '{kind="poll",outcome="forwarded"}'),
    ).toBeGreaterThanOrEqual(2);
  });

  it('upgrades a polling session to WebSocket through another node', async () => {
    const [a, b] = await twoNodes();
    const sid = await engineOpen(a.url);
    await connectAndJoin(a.url, sid, 'upgrade-room');
    // The polling GET that is pending while the client upgrades (engine.io answers it with a noop).
    const pending = enginePoll(a.url, sid);
    const ws = await engineUpgrade(b.url, sid);
    ws.send('2probe');
    expect(await ws.next((packet) => packet === '3probe')).toBe('3probe');
    ws.send('5');
    await pending;
    ws.send('422["history:fetch",{"room":"upgrade-room","limit":1}]');
    const ack = await ws.next((packet) => packet.startsWith('432'));
    expect(JSON.parse(ack.slice(3))).toEqual([expect.objectContaining({ ok: true, room: 'upgrade-room' })]);
    expect(
      await metricValue(b.url, 'switchyard_forwarded_requests_total', '{kind="upgrade",outcome="forwarded"}'),
    ).toBe(1);
    ws.close();
  });

  it('gives the client engine.io\'s own "Session ID unknown" when the owner is gone', async () => {
    const [a, b] = await twoNodes();
    // What engine.io itself answers for a session it does not hold.
    const direct = await enginePoll(a.url, 'AAAAAAAAAAAAAAAAAAAA.na');
    const sid = await engineOpen(a.url);
    await a.close();
    const viaB = await enginePoll(b.url, sid);
    expect([viaB.status, viaB.headers.get('content-type'), viaB.body]).toEqual([
      direct.status,
      direct.headers.get('content-type'),
      direct.body,
    ]);
    expect(JSON.parse(viaB.body)).toEqual({ code: 1, message: 'Session ID unknown' });
  });

  it('answers a session of an unknown node "Session ID unknown" without forwarding it anywhere', async () => {
    const [, b] = await twoNodes();
    const polled = await enginePoll(b.url, 'AAAAAAAAAAAAAAAAAAAA.nosuchnode');
    expect(polled.status).toBe(400);
    expect(JSON.parse(polled.body)).toEqual({ code: 1, message: 'Session ID unknown' });
    expect(
      await metricValue(b.url, 'switchyard_forwarded_requests_total', '{kind="poll",outcome="owner_unknown"}'),
    ).toBe(1);
  });
});

describe('internal requests', () => {
  it('refuses a forged forwarded request, and never forwards a genuine one again', async () => {
    const [a, b] = await twoNodes();
    const sid = await engineOpen(b.url);
    const url = `/socket.io/?EIO=4&transport=polling&sid=${sid}`;
    const genuine = createForwardSigner(SECRET);
    const forgers = {
      garbage: 'v1.123.nb.na.nonsense',
      'another secret': createForwardSigner('not-the-cluster-secret-0123456789abcdef').sign(
        { method: 'GET', url },
        'nb',
        'na',
      ),
      stale: genuine.sign({ method: 'GET', url }, 'nb', 'na', Date.now() - 60_000),
      'another request': genuine.sign({ method: 'GET', url: `${url}&t=1` }, 'nb', 'na'),
    };
    for (const [what, header] of Object.entries(forgers)) {
      const refused = await fetch(`${a.url}${url}`, { headers: { [FORWARD_HEADER]: header } });
      expect(refused.status, what).toBe(403);
      expect(await refused.json(), what).toEqual({ code: 'FORBIDDEN', message: expect.any(String) });
    }
    const upgrade = await rawHttp(
      a.port,
      `GET ${url.replace('polling', 'websocket')} HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${FORWARD_HEADER}: ${forgers.garbage}\r\n\r\n`,
    );
    expect(upgrade.split('\r\n')[0]).toBe('HTTP/1.1 403 Forbidden');
    expect(await metricValue(a.url, 'switchyard_forwarded_requests_total', '{kind="poll",outcome="forged"}')).toBe(4);

    // Correctly signed, but A does not hold the session: answered there, not sent back to B.
    const signed = await fetch(`${a.url}${url}`, {
      headers: { [FORWARD_HEADER]: genuine.sign({ method: 'GET', url }, 'nb', 'na') },
    });
    expect(signed.status).toBe(400);
    expect(await signed.json()).toEqual({ code: 1, message: 'Session ID unknown' });
    expect(await metricValue(a.url, 'switchyard_forwarded_requests_total', '{kind="poll",outcome="forwarded"}')).toBe(
      0,
    );
  });
});
