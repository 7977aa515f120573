import { SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import type { ChatMessage, Member } from '@switchyard/protocol';
import { createClient, type SwitchyardClientError } from '../src/index.js';
import { subscribe, type Subscription, type SubscriptionGap } from '../src/subscribe.js';
import type { PresenceChange, RoomCount } from '../src/room.js';
import { type StartedGateway, startGateway, startTcpProxy, type TcpProxy, waitFor } from '@switchyard/testkit';

/*
 * subscribe() against the real gateway, in Node: the fetch transport (Node 20 has no global
 * EventSource). Messages are published over the gateway's HTTP API.
 */

const API_KEY = 'subscribe-test-key-0123456789';
const SECRET = 'subscribe-test-secret-0123456789abcdef';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function gateway(env: Record<string, string> = {}): Promise<StartedGateway> {
  const started = await startGateway({ API_KEYS: API_KEY, PUBLISH_RATE_LIMIT_MAX: '100000', ...env });
  cleanups.push(() => started.close());
  return started;
}

function track(subscription: Subscription): Subscription {
  cleanups.push(() => subscription.close());
  return subscription;
}

async function publish(url: string, room: string, text: string): Promise<ChatMessage> {
  const response = await fetch(`${url}/v1/rooms/${room}/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
    body: JSON.stringify({ text }),
  });
  if (response.status !== 201) throw new Error(`publish answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as ChatMessage;
}

function record<T>(
  subscription: Subscription,
  event: 'message' | 'presence' | 'members' | 'count' | 'gap' | 'error',
): T[] {
  const seen: T[] = [];
  subscription.on(event, ((value: T) => seen.push(value)) as never);
  return seen;
}

async function opened(subscription: Subscription): Promise<void> {
  await waitFor('the subscription to open', () => subscription.state === 'open');
}

function token(sub: string, expiresIn = '1h'): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setExpirationTime(expiresIn)
    .sign(new TextEncoder().encode(SECRET));
}

describe('subscribe()', () => {
  it('receives messages and presence, typed, and keeps the last id', async () => {
    const { url } = await gateway();
    const subscription = track(subscribe(url, 'lobby'));
    const messages = record<ChatMessage>(subscription, 'message');
    const presence = record<PresenceChange>(subscription, 'presence');
    const members = record<Member[]>(subscription, 'members');
    const counts = record<RoomCount>(subscription, 'count');
    await opened(subscription);
    // The room as it was when the stream opened: nobody.
    await waitFor('the first list', () => members.length === 1);
    expect(members[0]).toEqual([]);

    const client = createClient(url, { name: 'Ada', userId: 'ada' });
    cleanups.push(() => client.close());
    await client.join('lobby');
    await waitFor('presence', () => presence.length === 1);
    expect(presence[0]).toEqual({ type: 'join', room: 'lobby', member: { id: 'ada', name: 'Ada' } });
    expect(counts.at(-1)).toEqual({ count: 1, mode: 'members' });

    const message = await publish(url, 'lobby', 'hello');
    await waitFor('the message', () => messages.length === 1);
    expect(messages[0]).toEqual(message);
    expect(subscription.lastEventId).toBe(message.id);
  });

  it('reconnects after the connection drops and resumes: every message once, in order', async () => {
    const { url, port } = await gateway();
    const proxy: TcpProxy = await startTcpProxy(port);
    cleanups.push(() => proxy.close());
    const subscription = track(subscribe(proxy.url, 'flow', { reconnect: { initialMs: 20, maxMs: 100 } }));
    const messages = record<ChatMessage>(subscription, 'message');
    const errors = record<SwitchyardClientError>(subscription, 'error');
    await opened(subscription);

    const sent: ChatMessage[] = [];
    for (let i = 0; i < 60; i += 1) {
      sent.push(await publish(url, 'flow', `m${i}`));
      // Cut the connection twice while messages keep coming.
      if (i === 20 || i === 40) proxy.dropAll();
    }
    await waitFor('the last message', () => messages.at(-1)?.id === sent.at(-1)?.id);
    expect(messages.map((m) => m.id)).toEqual(sent.map((m) => m.id));
    expect(errors.map((e) => e.code)).toContain('DISCONNECTED');
    expect(subscription.state).toBe('open');
  });

  it('starts from a given lastEventId and reports a gap the history cannot fill', async () => {
    const { url } = await gateway({ HISTORY_PER_ROOM: '2' });
    const [first, , third, fourth] = [
      await publish(url, 'r', 'a'),
      await publish(url, 'r', 'b'),
      await publish(url, 'r', 'c'),
      await publish(url, 'r', 'd'),
    ];
    const subscription = track(subscribe(url, 'r', { lastEventId: first?.id }));
    const messages = record<ChatMessage>(subscription, 'message');
    const gaps = record<SubscriptionGap>(subscription, 'gap');
    await waitFor('the replay', () => messages.length === 2);
    expect(gaps).toEqual([{ lastEventId: first?.id, oldestAvailableId: third?.id }]);
    expect(messages.map((m) => m.id)).toEqual([third?.id, fourth?.id]);
  });

  it('sends the token, and stops with FORBIDDEN on a private room of another user', async () => {
    const { url } = await gateway({ AUTH_MODE: 'jwt', JWT_SECRET: SECRET });
    const own = track(subscribe(url, 'private:ada', { token: () => token('ada') }));
    await opened(own);

    const other = track(subscribe(url, 'private:bob', { token: await token('ada') }));
    const errors = record<SwitchyardClientError>(other, 'error');
    await waitFor('the refusal', () => errors.length === 1);
    expect(errors[0]?.code).toBe('FORBIDDEN');
    expect(other.state).toBe('closed');
  });

  it('asks the token function again when a token is refused, and gets in with a fresh one', async () => {
    const { url } = await gateway({ AUTH_MODE: 'jwt', JWT_SECRET: SECRET });
    const tokens = [await token('ada', '-10s'), await token('ada')];
    let calls = 0;
    const subscription = track(
      subscribe(url, 'lobby', {
        token: () => tokens[Math.min(calls++, 1)] as string,
        reconnect: { initialMs: 10, maxMs: 50 },
      }),
    );
    const errors = record<SwitchyardClientError>(subscription, 'error');
    await opened(subscription);
    expect(errors.map((e) => e.code)).toEqual(['AUTH_EXPIRED']);
    expect(calls).toBe(2);
  });

  it('stops delivering after close()', async () => {
    const { url } = await gateway();
    const subscription = subscribe(url, 'lobby');
    const messages = record<ChatMessage>(subscription, 'message');
    await opened(subscription);
    await publish(url, 'lobby', 'before');
    await waitFor('the first message', () => messages.length === 1);
    subscription.close();
    expect(subscription.state).toBe('closed');
    // A second subscriber proves the next message went out.
    const witness = track(subscribe(url, 'lobby'));
    const seen = record<ChatMessage>(witness, 'message');
    await opened(witness);
    await publish(url, 'lobby', 'after');
    await waitFor('the witness', () => seen.length === 1);
    expect(messages).toHaveLength(1);
  });
});
