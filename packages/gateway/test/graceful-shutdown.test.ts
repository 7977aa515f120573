import { connect as tcpConnect } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MongoStandIn } from '@switchyard/mongo-standin';
import type { ShutdownNotice } from '@switchyard/protocol';
import {
  closeAll,
  connect,
  connectError,
  nextEvent,
  request,
  socketTo,
  startGateway,
  TRANSPORTS,
  waitFor,
} from '@switchyard/testkit';

afterEach(closeAll);

describe('graceful shutdown in MongoDB mode', () => {
  let mongo: MongoStandIn;
  beforeAll(async () => {
    mongo = await MongoStandIn.start();
  });
  afterAll(async () => mongo?.stop());

  // With connection state recovery on, Socket.IO sends even socket.emit through the adapter, which
  // delivers it a turn later: the notice must still go out before the transport closes.
  it.each(TRANSPORTS)('tells %s clients before closing their transport (recovery on)', async (transport) => {
    const { gateway, url } = await startGateway({ MONGODB_URI: mongo.uri, MONGODB_DB: `drain-${transport}` });
    const clients = await Promise.all([1, 2, 3].map(() => connect(url, { transports: [transport] })));
    const told = clients.map((client) => nextEvent(client, 'server:shutdown'));
    await gateway.drain();
    for (const notice of await Promise.all(told)) expect(notice).toMatchObject({ reason: 'draining' });
    await waitFor('every client disconnected', () => clients.every((client) => client.disconnected));
  });
});

describe.each(TRANSPORTS)('graceful shutdown over %s', (transport) => {
  it('tells connected clients, then closes their transport so socket.io-client reconnects on its own', async () => {
    const { gateway, url } = await startGateway();
    const alice = await connect(url, { transports: [transport], auth: { name: 'alice' }, reconnection: true });
    await request(alice, 'room:join', { room: 'lobby' });
    const seen: string[] = [];
    let notice: ShutdownNotice | undefined;
    alice.on('server:shutdown', (n) => {
      notice = n;
      seen.push('server:shutdown');
    });
    alice.on('disconnect', (reason) => seen.push(`disconnect: ${reason}`));
    const reconnecting = new Promise<void>((resolve) => alice.io.once('reconnect_attempt', () => resolve()));

    await gateway.drain();
    await waitFor('the disconnect', () => seen.length >= 2);
    expect(seen).toEqual(['server:shutdown', 'disconnect: transport close']);
    expect(notice).toEqual({ reason: 'draining', reconnectAfterMs: expect.any(Number) });
    await reconnecting;
  });

  it('reports not ready, stays alive, and refuses new connections while draining', async () => {
    const { gateway, url } = await startGateway({ DRAIN_TIMEOUT_MS: '2000' });
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    await connect(url, { transports: [transport] });

    await gateway.drain();
    expect(gateway.draining).toBe(true);
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ code: 'SHUTTING_DOWN', message: expect.any(String) });
    expect((await fetch(`${url}/healthz`)).status).toBe(200);

    const refused = await connectError(socketTo(url, { transports: [transport] }));
    expect(refused.message).toMatch(/error/);
    const handshake = await fetch(`${url}/socket.io/?EIO=4&transport=polling`);
    expect(handshake.status).toBe(403);
    expect(await handshake.json()).toMatchObject({ message: 'SHUTTING_DOWN' });
  });
});

describe('closing', () => {
  it('drains and stops: clients are told, the port stops answering, and close is idempotent', async () => {
    const { gateway, url } = await startGateway();
    const alice = await connect(url, { transports: ['websocket'] });
    const told = nextEvent(alice, 'server:shutdown');
    await Promise.all([gateway.close(), gateway.close()]);
    expect(await told).toMatchObject({ reason: 'draining' });
    await waitFor('alice disconnected', () => alice.disconnected);
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  });

  it('does not wait on an HTTP connection that is still mid-request', async () => {
    const { gateway, url } = await startGateway();
    const { hostname, port } = new URL(url);
    const socket = tcpConnect({ host: hostname, port: Number(port) });
    // The gateway force-closes this connection, which may surface as ECONNRESET: that is the point.
    const errors: Error[] = [];
    socket.on('error', (error) => errors.push(error));
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n'); // headers never finished
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    await gateway.close();
    await closed;
    expect(socket.destroyed).toBe(true);
    expect(errors.every((error) => (error as NodeJS.ErrnoException).code === 'ECONNRESET')).toBe(true);
  });

  it('closes a gateway that never listened', async () => {
    const { createGateway, loadConfig } = await import('../src/index.js');
    const gateway = await createGateway(loadConfig({ LOG_LEVEL: 'silent' }));
    await gateway.close();
    expect(gateway.draining).toBe(true);
  });
});
