import { SignJWT } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  ClientPool,
  type StartedGateway,
  startGateway,
  startTcpProxy,
  type TcpProxy,
  waitFor,
} from '@switchyard/testkit';

const SECRET = 'a-test-secret-that-is-long-enough-for-hs256';
const key = new TextEncoder().encode(SECRET);

function sign(claims: { sub: string; name: string }, expiresAt: string | number = '1h', secret = key): Promise<string> {
  return new SignJWT({ name: claims.name })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(claims.sub)
    .setIssuedAt()
    .setExpirationTime(expiresAt)
    .sign(secret);
}

let gateway: StartedGateway;
let proxy: TcpProxy;
beforeAll(async () => {
  gateway = await startGateway({ AUTH_MODE: 'jwt', JWT_SECRET: SECRET });
  proxy = await startTcpProxy(gateway.port);
});
afterAll(async () => {
  await proxy.close();
  await gateway.close();
});

describe.each(['polling', 'websocket'] as const)('JWT auth over %s', (transport) => {
  const pool = new ClientPool([transport]);
  afterEach(() => {
    pool.closeAll();
    proxy.setOffline(false);
  });

  it('calls getToken before every connection, so a reconnect uses a fresh token', async () => {
    let calls = 0;
    const client = pool.client(proxy.url, { getToken: async () => sign({ sub: 'user-1', name: `alice v${++calls}` }) });
    const room = await client.join(`jwt-${transport}`);
    expect(calls).toBe(1);
    expect(room.members.map((member) => member.name)).toEqual(['alice v1']);

    proxy.setOffline(true);
    await waitFor('reconnecting', () => client.state === 'reconnecting');
    proxy.setOffline(false);
    await client.ready();

    expect(calls).toBeGreaterThanOrEqual(2);
    // The gateway knows the new connection by the newest token's claims.
    await expect(room.send('hi')).resolves.toMatchObject({ author: { id: 'user-1', name: `alice v${calls}` } });
  });

  it('accepts a fixed token', async () => {
    const client = pool.client(gateway.url, { token: await sign({ sub: 'user-2', name: 'bob' }) });
    await expect(client.join('jwt-fixed')).resolves.toMatchObject({ name: 'jwt-fixed' });
  });

  it.each([
    {
      what: 'an expired token',
      token: () => sign({ sub: 'user-3', name: 'eve' }, Math.floor(Date.now() / 1000) - 60),
      code: 'AUTH_EXPIRED',
    },
    {
      what: 'a token signed with another secret',
      token: () => sign({ sub: 'user-3', name: 'eve' }, '1h', new TextEncoder().encode('x'.repeat(40))),
      code: 'AUTH_INVALID',
    },
  ] as const)('is refused for $what with $code', async ({ token, code }) => {
    const client = pool.client(gateway.url, { getToken: token });
    await expect(client.ready()).rejects.toMatchObject({ code });
    expect(client.state).toBe('disconnected');
  });

  it('is refused with AUTH_REQUIRED without a token', async () => {
    const client = pool.client(gateway.url, { name: 'no token' });
    await expect(client.join('lobby')).rejects.toMatchObject({ code: 'AUTH_REQUIRED' });
  });

  it('reports a failing getToken', async () => {
    const client = pool.client(gateway.url, {
      getToken: () => {
        throw new Error('token service down');
      },
    });
    const errors: string[] = [];
    client.onError((error) => errors.push(error.code));
    await expect(client.ready()).rejects.toMatchObject({ code: 'AUTH_REQUIRED' });
    expect(errors).toEqual(['AUTH_REQUIRED']);
  });
});
