import { afterEach, describe, expect, it } from 'vitest';
import type { DisconnectNotice } from '@switchyard/protocol';
import {
  API_KEY,
  closeAll,
  connect,
  connectError,
  disconnected,
  JWT_SECRET,
  nextEvent,
  openStream,
  publish,
  refusal,
  request,
  socketTo,
  startGateway,
  tokenFor,
  TRANSPORTS,
  waitFor,
} from '@switchyard/testkit';
import { SignJWT } from 'jose';

/*
 * Access ends with the JWT: at `exp` a socket is told TOKEN_EXPIRED and its transport is closed, an
 * SSE stream gets `event: error` TOKEN_EXPIRED and ends; tokens without `exp` are refused unless
 * JWT_REQUIRE_EXP=false.
 */

afterEach(closeAll);

const jwtEnv = { AUTH_MODE: 'jwt', JWT_SECRET, API_KEYS: API_KEY };

/** A token that expires `seconds` from now (JWT times are whole seconds). */
function expiringIn(sub: string, seconds: number): Promise<string> {
  return tokenFor(sub, {}, Math.floor(Date.now() / 1000) + seconds);
}

function withoutExp(sub: string): Promise<string> {
  return new SignJWT({ name: sub })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .sign(new TextEncoder().encode(JWT_SECRET));
}

describe.each(TRANSPORTS)('a socket over %s whose token expires', (transport) => {
  it('is told TOKEN_EXPIRED, then its transport is closed, and the same token is refused after', async () => {
    const { url } = await startGateway(jwtEnv);
    const token = await expiringIn('ada', 2);
    const ada = await connect(url, { transports: [transport], auth: { token } });
    expect(await request(ada, 'room:join', { room: 'lobby' })).toMatchObject({ ok: true });
    const notice = nextEvent(ada, 'server:disconnect');
    const reason = disconnected(ada);
    expect(await notice).toEqual({ code: 'TOKEN_EXPIRED', message: expect.any(String) } satisfies DisconnectNotice);
    expect(await reason).toBe('transport close');

    const again = await connectError(socketTo(url, { transports: [transport], auth: { token } }));
    expect(again.data?.code).toBe('AUTH_EXPIRED');
  });
});

describe('events after the token expired', () => {
  it('are refused with TOKEN_EXPIRED even before the connection is closed', async () => {
    const { gateway, url } = await startGateway(jwtEnv);
    const ada = await connect(url, { transports: ['websocket'], auth: { token: await tokenFor('ada') } });
    expect(await request(ada, 'room:join', { room: 'lobby' })).toMatchObject({ ok: true });
    // The server's view of the same socket: its token's exp has just passed.
    const onServer = gateway.io.of('/').sockets.get(ada.id ?? '');
    if (onServer === undefined) throw new Error('no server socket');
    onServer.data.tokenExpiresAt = Date.now() - 1;
    for (const [event, payload] of [
      ['room:join', { room: 'other' }],
      ['message:send', { room: 'lobby', text: 'late', clientMessageId: 'late-1' }],
      ['history:fetch', { room: 'lobby' }],
    ] as const)
      expect(await request(ada, event, payload)).toEqual({
        ok: false,
        error: { code: 'TOKEN_EXPIRED', message: expect.any(String) },
      });
  });
});

describe('an SSE stream whose token expires', () => {
  it('gets event: error TOKEN_EXPIRED with the last id, then ends', async () => {
    const { url } = await startGateway(jwtEnv);
    const stream = await openStream(`${url}/v1/rooms/lobby/events`, {
      authorization: `Bearer ${await expiringIn('ada', 2)}`,
    });
    expect(stream.response.status).toBe(200);
    const { body } = await publish(url, 'lobby', { text: 'before' });
    await stream.ended;
    expect(stream.dataOf('message:new')).toHaveLength(1);
    expect(stream.dataOf('error')).toEqual([
      { code: 'TOKEN_EXPIRED', message: expect.any(String), lastEventId: body.id },
    ]);
  });
});

describe('tokens without exp', () => {
  it('are refused by default, over sockets, SSE and HTTP publish', async () => {
    const { url } = await startGateway(jwtEnv);
    const token = await withoutExp('ada');
    const refused = await connectError(socketTo(url, { transports: ['websocket'], auth: { token } }));
    expect(refused.data).toEqual({ code: 'AUTH_INVALID', message: expect.stringMatching(/no exp claim/) });
    expect(await refusal(`${url}/v1/rooms/lobby/events`, { authorization: `Bearer ${token}` })).toMatchObject({
      status: 401,
      body: { code: 'AUTH_INVALID' },
    });
    const publisher = await new SignJWT({ scope: 'publish' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('svc')
      .sign(new TextEncoder().encode(JWT_SECRET));
    expect(await publish(url, 'lobby', { text: 'x' }, { authorization: `Bearer ${publisher}` })).toMatchObject({
      status: 401,
      body: { code: 'AUTH_INVALID' },
    });
  });

  it('are accepted with JWT_REQUIRE_EXP=false, and never closed for expiry', async () => {
    const { gateway, url } = await startGateway({ ...jwtEnv, JWT_REQUIRE_EXP: 'false' });
    const ada = await connect(url, { transports: ['websocket'], auth: { token: await withoutExp('ada') } });
    expect(await request(ada, 'room:join', { room: 'lobby' })).toMatchObject({ ok: true });
    await waitFor('the server socket', () => gateway.io.of('/').sockets.size === 1);
    expect([...gateway.io.of('/').sockets.values()][0]?.data.tokenExpiresAt).toBeUndefined();
  });
});

describe('a session recovered after the token expired', () => {
  const recoveryEnv = { ...jwtEnv, MAX_DISCONNECTION_DURATION_MS: '60000' };

  it('is not given back for the expired token: recovery runs the handshake checks too', async () => {
    const { url } = await startGateway(recoveryEnv);
    const token = await expiringIn('ada', 2);
    const ada = socketTo(url, { transports: ['websocket'], auth: { token }, reconnection: true });
    await waitFor('ada to connect', () => ada.connected);
    expect(await request(ada, 'room:join', { room: 'lobby' })).toMatchObject({ ok: true });
    // socket.io-client reconnects by itself after the close, offering its session and the same token.
    const refused = await connectError(ada);
    expect(refused.data?.code).toBe('AUTH_EXPIRED');
    expect(ada.connected).toBe(false);
  });

  it("is given back with a fresh token of the same user, and never to another user's token", async () => {
    const { url } = await startGateway(recoveryEnv);
    let token = await expiringIn('ada', 2);
    const ada = socketTo(url, {
      transports: ['websocket'],
      auth: (cb: (data: object) => void) => cb({ token }),
      reconnection: true,
    } as never);
    await waitFor('ada to connect', () => ada.connected);
    expect(await request(ada, 'room:join', { room: 'lobby' })).toMatchObject({ ok: true });
    await nextEvent(ada, 'server:disconnect');
    token = await tokenFor('grace');
    const refused = await connectError(ada);
    expect(refused.data).toEqual({ code: 'FORBIDDEN', message: 'This session belongs to another user' });
    token = await tokenFor('ada');
    ada.connect();
    await waitFor('ada to recover her session', () => ada.connected && ada.recovered);
    expect(
      await request(ada, 'message:send', { room: 'lobby', text: 'back', clientMessageId: 'back-1' }),
    ).toMatchObject({
      ok: true,
    });
  });
});
