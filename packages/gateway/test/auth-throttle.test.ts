import { afterEach, describe, expect, it } from 'vitest';
import {
  API_KEY,
  closeAll,
  connect,
  connectError,
  JWT_SECRET,
  publish,
  refusal,
  socketTo,
  startGateway,
  tokenFor,
  waitFor,
} from '@switchyard/testkit';

/*
 * Failed authentications are throttled per client address, across sockets, SSE and the HTTP publish
 * API: after AUTH_FAILURE_LIMIT of them every attempt from that address — right or wrong — gets
 * RATE_LIMITED until the window gives one back, so keys and tokens cannot be guessed at wire speed.
 */

afterEach(closeAll);

const LIMITED = { AUTH_FAILURE_LIMIT: '5', AUTH_FAILURE_WINDOW_MS: '60000' };
const WRONG_KEY = { 'x-api-key': 'wrong-key-0123456789abcdef' };

describe('failed API keys', () => {
  it('are refused 401 up to the limit, then 429 with Retry-After even for the right key', async () => {
    const { url } = await startGateway({ API_KEYS: API_KEY, ...LIMITED });
    for (let attempt = 1; attempt <= 5; attempt += 1)
      expect(await publish(url, 'lobby', { text: 'guess' }, WRONG_KEY)).toMatchObject({
        status: 401,
        body: { code: 'AUTH_INVALID' },
      });
    const throttled = await publish(url, 'lobby', { text: 'guess' }, WRONG_KEY);
    expect(throttled).toMatchObject({ status: 429, body: { code: 'RATE_LIMITED', message: expect.any(String) } });
    expect(Number(throttled.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await publish(url, 'lobby', { text: 'right key' })).toMatchObject({
      status: 429,
      body: { code: 'RATE_LIMITED' },
    });
  });

  it('are forgiven over the window', async () => {
    const { url } = await startGateway({ API_KEYS: API_KEY, AUTH_FAILURE_LIMIT: '2', AUTH_FAILURE_WINDOW_MS: '1000' });
    for (let attempt = 1; attempt <= 3; attempt += 1) await publish(url, 'lobby', { text: 'guess' }, WRONG_KEY);
    expect((await publish(url, 'lobby', { text: 'right key' })).status).toBe(429);
    await waitFor(
      'a failure to be forgiven',
      async () => (await publish(url, 'lobby', { text: 'right key' })).status === 201,
    );
  });

  it('from one address do not throttle another, told apart by X-Forwarded-For from a trusted proxy', async () => {
    const { url } = await startGateway({ API_KEYS: API_KEY, TRUST_PROXY: 'loopback', ...LIMITED });
    const from = (address: string) => ({ 'x-forwarded-for': address });
    for (let attempt = 1; attempt <= 6; attempt += 1)
      await publish(url, 'lobby', { text: 'guess' }, { ...WRONG_KEY, ...from('203.0.113.7') });
    expect((await publish(url, 'lobby', { text: 'hi' }, { 'x-api-key': API_KEY, ...from('203.0.113.7') })).status).toBe(
      429,
    );
    expect(
      (await publish(url, 'lobby', { text: 'hi' }, { 'x-api-key': API_KEY, ...from('198.51.100.9') })).status,
    ).toBe(201);
  });

  it('cannot dodge the throttle with a made-up X-Forwarded-For when no proxy is trusted', async () => {
    const { url } = await startGateway({ API_KEYS: API_KEY, ...LIMITED });
    for (let attempt = 1; attempt <= 6; attempt += 1)
      await publish(url, 'lobby', { text: 'guess' }, { ...WRONG_KEY, 'x-forwarded-for': `203.0.113.${attempt}` });
    expect(
      (await publish(url, 'lobby', { text: 'hi' }, { ...WRONG_KEY, 'x-forwarded-for': '198.51.100.1' })).status,
    ).toBe(429);
  });
});

describe('failed tokens', () => {
  const jwtEnv = { AUTH_MODE: 'jwt', JWT_SECRET, ...LIMITED };

  it('on socket handshakes: AUTH_INVALID up to the limit, then RATE_LIMITED even for a valid token', async () => {
    const { url } = await startGateway(jwtEnv);
    for (let attempt = 1; attempt <= 5; attempt += 1) {
      const refused = await connectError(socketTo(url, { transports: ['websocket'], auth: { token: 'not.a.jwt' } }));
      expect(refused.data?.code).toBe('AUTH_INVALID');
    }
    const valid = await tokenFor('ada');
    const throttled = await connectError(socketTo(url, { transports: ['websocket'], auth: { token: valid } }));
    expect(throttled.data).toEqual({ code: 'RATE_LIMITED', message: expect.stringMatching(/failed authentications/) });
  });

  it('count across transports: failures on SSE throttle socket handshakes and HTTP publishes', async () => {
    const { url } = await startGateway({ ...jwtEnv, API_KEYS: API_KEY });
    for (let attempt = 1; attempt <= 5; attempt += 1)
      expect(await refusal(`${url}/v1/rooms/lobby/events`, { authorization: 'Bearer not.a.jwt' })).toMatchObject({
        status: 401,
        body: { code: 'AUTH_INVALID' },
      });
    expect(await refusal(`${url}/v1/rooms/lobby/events`, { authorization: 'Bearer not.a.jwt' })).toMatchObject({
      status: 429,
      body: { code: 'RATE_LIMITED' },
    });
    const throttled = await connectError(
      socketTo(url, { transports: ['websocket'], auth: { token: await tokenFor('ada') } }),
    );
    expect(throttled.data?.code).toBe('RATE_LIMITED');
    expect((await publish(url, 'lobby', { text: 'hi' })).status).toBe(429);
  });

  it('valid tokens and anonymous clients are never counted', async () => {
    const { url } = await startGateway(jwtEnv);
    for (let attempt = 1; attempt <= 8; attempt += 1) {
      const socket = await connect(url, { transports: ['websocket'], auth: { token: await tokenFor(`u${attempt}`) } });
      socket.disconnect();
    }
    const anonymous = await startGateway(LIMITED);
    for (let attempt = 1; attempt <= 8; attempt += 1)
      expect(
        (await connectError(socketTo(anonymous.url, { transports: ['websocket'], auth: { name: '\n' } }))).data?.code,
      ).toBe('INVALID_PAYLOAD');
  });
});

describe('order of checks of the HTTP publish API', () => {
  it('a malformed room is 400 INVALID_ROOM even past the publisher rate limit', async () => {
    const { url } = await startGateway({ API_KEYS: API_KEY, PUBLISH_RATE_LIMIT_MAX: '1' });
    expect((await publish(url, 'lobby', { text: 'one' })).status).toBe(201);
    expect((await publish(url, 'lobby', { text: 'two' })).status).toBe(429);
    expect(await publish(url, 'bad room!', { text: 'three' })).toMatchObject({
      status: 400,
      body: { code: 'INVALID_ROOM' },
    });
    expect(await publish(url, 'a'.repeat(150), { text: 'four' })).toMatchObject({
      status: 400,
      body: { code: 'INVALID_ROOM' },
    });
  });
});
