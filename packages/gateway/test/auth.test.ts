import { SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import type { Ack, JoinRoomResult } from '@switchyard/protocol';
import { closeAll, connect, connectError, request, socketTo, startGateway, TRANSPORTS } from '@switchyard/testkit';

afterEach(closeAll);

const SECRET = 'test-secret-that-is-long-enough-0123456789';
const JWT_ENV = { AUTH_MODE: 'jwt', JWT_SECRET: SECRET };

function sign(
  claims: Record<string, unknown>,
  { secret = SECRET, expiresIn = '5m' }: { secret?: string; expiresIn?: string | number } = {},
) {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt()
    .setExpirationTime(expiresIn)
    .sign(new TextEncoder().encode(secret));
}

/** An unsigned token (`alg: none`), built by hand since no sane library will make one. */
function unsignedToken(claims: Record<string, unknown>): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part({ ...claims, exp: Math.floor(Date.now() / 1000) + 300 })}.`;
}

async function members(url: string, transport: 'polling' | 'websocket', auth: Record<string, unknown>) {
  const socket = await connect(url, { transports: [transport], auth });
  const ack = await request<Ack<JoinRoomResult>>(socket, 'room:join', { room: 'whoami' });
  if (!ack.ok) throw new Error(ack.error.code);
  return ack.members;
}

describe.each(TRANSPORTS)('JWT auth over %s', (transport) => {
  const refusal = async (url: string, auth: Record<string, unknown> | undefined) =>
    (await connectError(socketTo(url, { transports: [transport], ...(auth === undefined ? {} : { auth }) }))).data;

  it('accepts a valid HS256 token and takes the user from sub and name', async () => {
    const { url } = await startGateway(JWT_ENV);
    const token = await sign({ sub: 'user-42', name: 'Ada' });
    expect(await members(url, transport, { token })).toEqual([{ id: 'user-42', name: 'Ada' }]);
  });

  it('refuses a connection without a token with AUTH_REQUIRED', async () => {
    const { url } = await startGateway(JWT_ENV);
    expect(await refusal(url, undefined)).toEqual({ code: 'AUTH_REQUIRED', message: expect.any(String) });
    expect(await refusal(url, { name: 'no token' })).toMatchObject({ code: 'AUTH_REQUIRED' });
  });

  it('refuses an expired token with AUTH_EXPIRED', async () => {
    const { url } = await startGateway(JWT_ENV);
    const token = await sign({ sub: 'user-42' }, { expiresIn: Math.floor(Date.now() / 1000) - 60 });
    expect(await refusal(url, { token })).toMatchObject({ code: 'AUTH_EXPIRED' });
  });

  it('refuses a token signed with another secret with AUTH_INVALID', async () => {
    const { url } = await startGateway(JWT_ENV);
    const token = await sign({ sub: 'user-42' }, { secret: 'another-secret-that-is-long-enough-000000' });
    expect(await refusal(url, { token })).toMatchObject({ code: 'AUTH_INVALID' });
  });

  it('refuses an unsigned alg:none token with AUTH_INVALID', async () => {
    const { url } = await startGateway(JWT_ENV);
    expect(await refusal(url, { token: unsignedToken({ sub: 'admin' }) })).toMatchObject({ code: 'AUTH_INVALID' });
  });

  it('refuses malformed tokens and tokens without sub with AUTH_INVALID', async () => {
    const { url } = await startGateway(JWT_ENV);
    expect(await refusal(url, { token: 'not.a.jwt' })).toMatchObject({ code: 'AUTH_INVALID' });
    expect(await refusal(url, { token: 12345 })).toMatchObject({ code: 'AUTH_INVALID' });
    expect(await refusal(url, { token: await sign({ name: 'nobody' }) })).toMatchObject({ code: 'AUTH_INVALID' });
  });
});

describe('JWT issuer and audience', () => {
  it('refuses tokens for another issuer or audience when they are configured', async () => {
    const { url } = await startGateway({
      ...JWT_ENV,
      JWT_ISSUER: 'https://issuer.example',
      JWT_AUDIENCE: 'switchyard',
    });
    const good = await new SignJWT({ sub: 'u1' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('https://issuer.example')
      .setAudience('switchyard')
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(SECRET));
    expect(await members(url, 'websocket', { token: good })).toEqual([{ id: 'u1', name: 'u1' }]);

    const wrongIssuer = await new SignJWT({ sub: 'u1' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('https://evil.example')
      .setAudience('switchyard')
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(SECRET));
    expect(
      (await connectError(socketTo(url, { transports: ['websocket'], auth: { token: wrongIssuer } }))).data,
    ).toMatchObject({
      code: 'AUTH_INVALID',
    });
    const noAudience = await sign({ sub: 'u1', iss: 'https://issuer.example' });
    expect(
      (await connectError(socketTo(url, { transports: ['websocket'], auth: { token: noAudience } }))).data,
    ).toMatchObject({
      code: 'AUTH_INVALID',
    });
  });
});

describe('anonymous mode', () => {
  it('uses the chosen display name, and auth.userId when given', async () => {
    const { url } = await startGateway();
    expect(await members(url, 'websocket', { name: '  Grace  ', userId: 'tab-owner-1' })).toEqual([
      { id: 'tab-owner-1', name: 'Grace' },
    ]);
  });

  it('names a client that chose no name guest-xxxx, with a per-socket user id', async () => {
    const { url } = await startGateway();
    const [member] = await members(url, 'polling', {});
    expect(member?.name).toMatch(/^guest-[0-9a-f]{4}$/);
    expect(member?.id).toMatch(/^anon-/);
  });

  it('refuses an invalid display name or user id at connect with INVALID_PAYLOAD', async () => {
    const { url } = await startGateway();
    for (const auth of [
      { name: '' },
      { name: 'x'.repeat(41) },
      { name: 'bell\u0007' },
      { name: 42 },
      { userId: 'spaces are bad' },
    ]) {
      const refused = await connectError(socketTo(url, { transports: ['websocket'], auth }));
      expect(refused.data).toMatchObject({ code: 'INVALID_PAYLOAD' });
    }
  });

  it('ignores a token in anonymous mode', async () => {
    const { url } = await startGateway();
    const [member] = await members(url, 'websocket', { name: 'Lin', token: 'whatever' });
    expect(member?.name).toBe('Lin');
  });
});
