import { EventSource } from 'eventsource';
import { afterEach, describe, expect, it } from 'vitest';
import { subscribe, type Subscription } from '@switchyard/client/subscribe';
import type { ChatMessage, TypingEvent } from '@switchyard/protocol';
import {
  API_KEY,
  closeAll,
  connect,
  publish,
  request,
  startGateway,
  startTcpProxy,
  waitFor,
} from '@switchyard/testkit';

/*
 * The SDK's subscribe() on its EventSource transport (the `eventsource` package stands in for a
 * browser's), against the real gateway: the standard client's own resume with Last-Event-ID.
 */

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await closeAll();
});

const env = { API_KEYS: API_KEY, PUBLISH_RATE_LIMIT_MAX: '100000', SSE_RETRY_MS: '20' };

function tracked(subscription: Subscription): Subscription {
  cleanups.push(() => subscription.close());
  return subscription;
}

describe('subscribe() over EventSource', () => {
  it('delivers typed messages and typing', async () => {
    const { url } = await startGateway(env);
    const subscription = tracked(subscribe(url, 'lobby', { EventSource, typing: true }));
    const messages: ChatMessage[] = [];
    const typing: TypingEvent[] = [];
    subscription.on('message', (m) => messages.push(m));
    subscription.on('typing', (t) => typing.push(t));
    await waitFor('open', () => subscription.state === 'open');

    const ada = await connect(url, { transports: ['websocket'], auth: { name: 'Ada', userId: 'ada' } });
    await request(ada, 'room:join', { room: 'lobby' });
    await request(ada, 'typing', { room: 'lobby' });
    const { body } = await publish(url, 'lobby', { text: 'hi' });
    await waitFor('message', () => messages.length === 1);
    expect(messages[0]).toEqual(body);
    expect(typing).toEqual([{ room: 'lobby', member: { id: 'ada', name: 'Ada' } }]);
    expect(subscription.lastEventId).toBe(body.id);
  });

  it('resumes by itself with Last-Event-ID after the connection is cut while messages flow', async () => {
    const { url } = await startGateway(env);
    const cutter = await startTcpProxy(Number(new URL(url).port));
    cleanups.push(() => cutter.close());
    const subscription = tracked(subscribe(cutter.url, 'flow', { EventSource }));
    const messages: ChatMessage[] = [];
    subscription.on('message', (m) => messages.push(m));
    await waitFor('open', () => subscription.state === 'open');

    const sent: ChatMessage[] = [];
    for (let i = 0; i < 40; i += 1) {
      sent.push((await publish(url, 'flow', { text: `m${i}` })).body as unknown as ChatMessage);
      if (i === 15 || i === 30) cutter.dropAll();
    }
    await waitFor('the last message', () => messages.at(-1)?.id === sent.at(-1)?.id);
    expect(messages.map((m) => m.id)).toEqual(sent.map((m) => m.id));
  });

  it('starts from lastEventId on its first connection', async () => {
    const { url } = await startGateway(env);
    const first = (await publish(url, 'q', { text: 'a' })).body as unknown as ChatMessage;
    const second = (await publish(url, 'q', { text: 'b' })).body as unknown as ChatMessage;
    const subscription = tracked(subscribe(url, 'q', { EventSource, lastEventId: first.id }));
    const messages: ChatMessage[] = [];
    subscription.on('message', (m) => messages.push(m));
    await waitFor('the replayed message', () => messages.length === 1);
    expect(messages[0]?.id).toBe(second.id);
  });
});
