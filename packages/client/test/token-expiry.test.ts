import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { ChatMessage } from '@switchyard/protocol';
import type { ConnectionState, SwitchyardClientError } from '../src/index.js';
import { subscribe } from '../src/subscribe.js';
import {
  API_KEY,
  ClientPool,
  closeAll,
  JWT_SECRET,
  publish,
  startGateway,
  tokenFor,
  waitFor,
} from '@switchyard/testkit';

/*
 * When the gateway closes a connection at the token's `exp` (TOKEN_EXPIRED), the SDK asks getToken
 * for a fresh one and carries on: the connection comes back, its session too where the gateway keeps
 * sessions, and not one message is lost or repeated. With a fixed token there is nothing to carry on
 * with: the client ends with TOKEN_EXPIRED.
 */

const TOKEN_SECONDS = 2;
const jwtEnv = { AUTH_MODE: 'jwt', JWT_SECRET, API_KEYS: API_KEY, PUBLISH_RATE_LIMIT_MAX: '100000' };

/** A token for `sub` that expires in TOKEN_SECONDS (JWT times are whole seconds: 1-2 s from now). */
function shortLived(sub: string): Promise<string> {
  return tokenFor(sub, {}, Math.floor(Date.now() / 1000) + TOKEN_SECONDS);
}

/** Publishes numbered messages until `stop` resolves. */
async function publishUntil(url: string, room: string, done: () => boolean): Promise<ChatMessage[]> {
  const sent: ChatMessage[] = [];
  for (let n = 1; !done(); n += 1) {
    const { status, body } = await publish(url, room, { text: `n${n}` });
    expect(status).toBe(201);
    sent.push(body as unknown as ChatMessage);
    await sleep(50);
  }
  return sent;
}

afterEach(closeAll);

describe.each([
  ['with connection state recovery', { MAX_DISCONNECTION_DURATION_MS: '60000' }],
  ['without it (rejoin and history)', {}],
] as const)('the SDK whose token expires, %s', (mode, env) => {
  describe.each(['websocket', 'polling'] as const)('over %s', (transport) => {
    const pool = new ClientPool([transport]);
    afterEach(() => pool.closeAll());

    it('calls getToken, reconnects, and misses nothing', async () => {
      const { url } = await startGateway({ ...jwtEnv, ...env });
      let tokens = 0;
      const client = pool.client(url, {
        getToken: () => {
          tokens += 1;
          return shortLived('ada');
        },
      });
      const states: ConnectionState[] = [];
      client.onState((state) => states.push(state));
      const room = await client.join('news');
      const received: ChatMessage[] = [];
      room.on('message', (message) => received.push(message));
      let recovered = false;
      client.socket.on('connect', () => (recovered ||= client.socket.recovered === true));

      // Messages flow while the token expires at least once.
      const sent = await publishUntil(url, 'news', () => tokens >= 3 && client.state === 'connected');
      await waitFor('every message', () => received.length >= sent.length);
      expect(received.map((message) => message.id)).toEqual(sent.map((message) => message.id));
      expect(states).toContain('reconnecting');
      expect(client.state).toBe('connected');
      expect(recovered).toBe(mode === 'with connection state recovery');
    });
  });
});

describe('the SDK with a fixed token that expires', () => {
  const pool = new ClientPool(['websocket']);
  afterEach(() => pool.closeAll());

  it('ends disconnected with TOKEN_EXPIRED', async () => {
    const { url } = await startGateway(jwtEnv);
    const client = pool.client(url, { token: await shortLived('ada') });
    await client.join('news');
    const ended = new Promise<SwitchyardClientError | undefined>((resolve) =>
      client.onState((state, error) => state === 'disconnected' && resolve(error)),
    );
    expect((await ended)?.code).toBe('TOKEN_EXPIRED');
    expect(client.state).toBe('disconnected');
  });
});

describe('subscribe() whose token expires', () => {
  it('fetches a fresh token and resumes: every message once, in order', async () => {
    const { url } = await startGateway(jwtEnv);
    let tokens = 0;
    const subscription = subscribe(url, 'news', {
      token: () => {
        tokens += 1;
        return shortLived('ada');
      },
      reconnect: { initialMs: 50, maxMs: 200 },
    });
    const received: ChatMessage[] = [];
    const errors: string[] = [];
    subscription.on('message', (message) => received.push(message));
    subscription.on('error', (error) => errors.push(error.code));
    await waitFor('the subscription to open', () => subscription.state === 'open');
    try {
      const sent = await publishUntil(url, 'news', () => tokens >= 3 && subscription.state === 'open');
      await waitFor('every message', () => received.length >= sent.length);
      expect(received.map((message) => message.id)).toEqual(sent.map((message) => message.id));
      expect(errors).toContain('TOKEN_EXPIRED');
      expect(subscription.state).toBe('open');
    } finally {
      subscription.close();
    }
  });

  it('with a fixed token: closed, with TOKEN_EXPIRED', async () => {
    const { url } = await startGateway(jwtEnv);
    const subscription = subscribe(url, 'news', { token: await shortLived('ada') });
    const errors: string[] = [];
    subscription.on('error', (error) => errors.push(error.code));
    await waitFor('the subscription to end', () => subscription.state === 'closed', { timeoutMs: 15_000 });
    expect(errors).toEqual(['TOKEN_EXPIRED']);
  });
});
