import { createServer } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ConnectionState, SwitchyardClientError } from '../src/index.js';
import {
  ClientPool,
  type StartedGateway,
  startGateway,
  startTcpProxy,
  type TcpProxy,
  waitFor,
} from '@switchyard/testkit';

let gateway: StartedGateway;
beforeAll(async () => {
  gateway = await startGateway();
});
afterAll(() => gateway.close());

/** A port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe.each(['polling', 'websocket'] as const)('connection over %s', (transport) => {
  const pool = new ClientPool([transport]);
  let proxy: TcpProxy;
  beforeAll(async () => {
    proxy = await startTcpProxy(gateway.port);
  });
  afterEach(() => {
    pool.closeAll();
    proxy.setOffline(false);
    proxy.release();
  });
  afterAll(() => proxy.close());

  it('goes connecting → connected → reconnecting → connected → disconnected', async () => {
    const client = pool.client(proxy.url, { name: 'alice' });
    const states: ConnectionState[] = [];
    client.onState((state) => states.push(state));
    expect(client.state).toBe('connecting');

    await client.ready();
    expect(states).toEqual(['connected']);
    proxy.setOffline(true);
    await waitFor('reconnecting', () => client.state === 'reconnecting');
    proxy.setOffline(false);
    await waitFor('reconnect', () => states.length === 3);
    expect(states).toEqual(['connected', 'reconnecting', 'connected']);
    client.close();
    expect(states).toEqual(['connected', 'reconnecting', 'connected', 'disconnected']);
    expect(client.state).toBe('disconnected');
  });

  it('retries a request that gets no answer, then rejects with TIMEOUT and stays connected', async () => {
    const client = pool.client(proxy.url, { name: 'alice', ackTimeoutMs: 1_000, attempts: 3 });
    const room = await client.join(`timeouts-${transport}`);
    let historyRequests = 0;
    client.socket.onAnyOutgoing((event: string) => void (event === 'history:fetch' && historyRequests++));
    proxy.holdDownstream(); // requests reach the gateway; its acks do not come back

    const error = await room.history().catch((caught: unknown) => caught as SwitchyardClientError);

    expect(error).toMatchObject({ name: 'SwitchyardClientError', code: 'TIMEOUT', event: 'history:fetch' });
    expect(historyRequests).toBe(3);
    expect(client.state).toBe('connected');
    proxy.release();
    await expect(room.history()).resolves.toMatchObject({ room: `timeouts-${transport}` });
  });

  it('rejects with DISCONNECTED once closed', async () => {
    const client = pool.client(proxy.url, { name: 'alice' });
    const room = await client.join('closing');
    client.close();
    await expect(room.send('anyone?')).rejects.toMatchObject({ code: 'DISCONNECTED' });
    await expect(client.join('other')).rejects.toMatchObject({ code: 'DISCONNECTED' });
    await expect(client.ready()).rejects.toMatchObject({ code: 'DISCONNECTED' });
  });

  it('rejects with DISCONNECTED when the gateway cannot be reached', async () => {
    const client = pool.client(`http://127.0.0.1:${await closedPort()}`, {
      name: 'alice',
      ackTimeoutMs: 300,
      attempts: 2,
    });
    await expect(client.join('nowhere')).rejects.toMatchObject({ code: 'DISCONNECTED' });
    expect(client.state).toBe('connecting');
  });

  it('waits for the connection when a request is made while reconnecting', async () => {
    const client = pool.client(proxy.url, { name: 'alice' });
    const room = await client.join(`offline-send-${transport}`);
    proxy.setOffline(true);
    await waitFor('reconnecting', () => client.state === 'reconnecting');

    const sending = room.send('sent while offline');
    proxy.setOffline(false);

    await expect(sending).resolves.toMatchObject({ text: 'sent while offline' });
    const { messages } = await room.history();
    expect(messages.filter((message) => message.text === 'sent while offline')).toHaveLength(1);
  });

  it("reports the gateway's refusal of the handshake as the reason for disconnected", async () => {
    const client = pool.client(gateway.url, { name: 'x'.repeat(100) });
    const reasons: (SwitchyardClientError | undefined)[] = [];
    client.onState((state, error) => state === 'disconnected' && reasons.push(error));

    await expect(client.ready()).rejects.toMatchObject({ code: 'INVALID_PAYLOAD' });
    expect(client.state).toBe('disconnected');
    expect(reasons[0]?.code).toBe('INVALID_PAYLOAD');
    await expect(client.join('lobby')).rejects.toMatchObject({ code: 'INVALID_PAYLOAD' });
  });
});

describe('a draining gateway', () => {
  const pool = new ClientPool(['websocket']);
  afterEach(() => pool.closeAll());

  it('makes the client reconnect rather than give up', async () => {
    const draining = await startGateway();
    try {
      const client = pool.client(draining.url, { name: 'alice' });
      await client.join('lobby');
      const states: ConnectionState[] = [];
      client.onState((state) => states.push(state));
      await draining.drain();
      await waitFor('reconnecting', () => states.includes('reconnecting'));
      expect(client.state).not.toBe('disconnected');
    } finally {
      pool.closeAll();
      await draining.close();
    }
  });
});
