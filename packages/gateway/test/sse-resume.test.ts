import { afterEach, describe, expect, it } from 'vitest';
import type { ChatMessage } from '@switchyard/protocol';
import { MemoryMessageStore } from '../src/index.js';
import type { HistoryAfter, MessageStore } from '../src/index.js';
import { API_KEY, closeAll, connect, openStream, publish, request, startGateway, waitFor } from '@switchyard/testkit';
import type { SseGap } from '@switchyard/protocol';

afterEach(closeAll);

const env = {
  API_KEYS: API_KEY,
  PUBLISH_RATE_LIMIT_MAX: '100000',
  RATE_LIMIT_BURST: '100000',
  RATE_LIMIT_PER_SECOND: '100000',
};

async function publishMany(url: string, room: string, count: number): Promise<ChatMessage[]> {
  const messages: ChatMessage[] = [];
  for (let i = 0; i < count; i += 1) {
    const { status, body } = await publish(url, room, { text: `m${i}` });
    expect(status).toBe(201);
    messages.push(body as unknown as ChatMessage);
  }
  return messages;
}

describe('SSE resume', () => {
  it('resumes with Last-Event-ID after forced disconnects while messages keep flowing: every message once, in order', async () => {
    const { url } = await startGateway(env);
    const sender = await connect(url, { transports: ['websocket'], auth: { name: 'Sender', userId: 'sender' } });
    await request(sender, 'room:join', { room: 'flow' });

    // The first stream is open before the first message: a stream without an id starts live.
    let stream = await openStream(`${url}/v1/rooms/flow/events`);
    const total = 150;
    const sent: ChatMessage[] = [];
    const sending = (async () => {
      for (let i = 0; i < total; i += 1) {
        const ack = await request<{ ok: boolean; message: ChatMessage }>(sender, 'message:send', {
          room: 'flow',
          text: `n${i}`,
          clientMessageId: `c${i}`,
        });
        expect(ack.ok).toBe(true);
        sent.push(ack.message);
      }
    })();

    const received: ChatMessage[] = [];
    let lastEventId: string | undefined;
    // Three streams cut off mid-flow, then one that stays until the end.
    for (let cut = 0; cut < 3; cut += 1) {
      if (cut > 0)
        stream = await openStream(
          `${url}/v1/rooms/flow/events`,
          lastEventId === undefined ? {} : { 'last-event-id': lastEventId },
        );
      const before = received.length;
      await waitFor(
        'some messages on this stream',
        () => stream.dataOf('message:new').length >= 10 || sent.length === total,
      );
      stream.close();
      await stream.ended;
      const got = stream.dataOf<ChatMessage>('message:new');
      received.push(...got);
      lastEventId = stream.events.filter((e) => e.event === 'message:new').at(-1)?.id ?? lastEventId;
      expect(received.length).toBeGreaterThanOrEqual(before);
    }
    const last = await openStream(
      `${url}/v1/rooms/flow/events`,
      lastEventId === undefined ? {} : { 'last-event-id': lastEventId },
    );
    await sending;
    const finalId = sent.at(-1)?.id;
    await waitFor('the last message on the final stream', () =>
      last.dataOf<ChatMessage>('message:new').some((m) => m.id === finalId),
    );
    received.push(...last.dataOf<ChatMessage>('message:new'));

    expect(received.map((m) => m.id)).toEqual(sent.map((m) => m.id));
    expect(received.map((m) => m.text)).toEqual(sent.map((m) => m.text));
  });

  it('resumes from ?lastEventId= when there is no header, and the header wins over it', async () => {
    const { url } = await startGateway(env);
    const [, second, third, fourth, fifth] = await publishMany(url, 'q', 5);
    const fromQuery = await openStream(`${url}/v1/rooms/q/events?lastEventId=${second?.id}`);
    const replayed = await fromQuery.waitForEvents<ChatMessage>('message:new', 3);
    expect(replayed.map((m) => m.id)).toEqual([third?.id, fourth?.id, fifth?.id]);

    const [sixth] = await publishMany(url, 'q', 1);
    const live = await fromQuery.waitForEvents<ChatMessage>('message:new', 4);
    expect(live.at(-1)?.id).toBe(sixth?.id);
    expect(fromQuery.dataOf('gap')).toEqual([]);

    const headerWins = await openStream(`${url}/v1/rooms/q/events?lastEventId=${second?.id}`, {
      'last-event-id': fifth?.id ?? '',
    });
    const [first] = await headerWins.waitForEvents<ChatMessage>('message:new', 1);
    expect(first?.id).toBe(sixth?.id);
  });

  it('replays a long history page by page before going live', async () => {
    const { url } = await startGateway(env);
    const messages = await publishMany(url, 'long', 230);
    const stream = await openStream(`${url}/v1/rooms/long/events`, { 'last-event-id': messages[4]?.id ?? '' });
    const replayed = await stream.waitForEvents<ChatMessage>('message:new', 225);
    expect(replayed.map((m) => m.id)).toEqual(messages.slice(5).map((m) => m.id));
  });

  it('reports a gap when the id is older than the history, then replays what is held and goes live', async () => {
    const { url } = await startGateway({ ...env, HISTORY_PER_ROOM: '3' });
    const messages = await publishMany(url, 'short', 6);
    const stream = await openStream(`${url}/v1/rooms/short/events`, { 'last-event-id': messages[0]?.id ?? '' });
    const [gap] = await stream.waitForEvents<SseGap>('gap', 1);
    expect(gap).toEqual({ lastEventId: messages[0]?.id, oldestAvailableId: messages[3]?.id });
    const replayed = await stream.waitForEvents<ChatMessage>('message:new', 3);
    expect(replayed.map((m) => m.id)).toEqual(messages.slice(3).map((m) => m.id));
    // The gap comes first.
    expect(stream.events[0]?.event).toBe('gap');
    const [live] = await publishMany(url, 'short', 1);
    expect((await stream.waitForEvents<ChatMessage>('message:new', 4)).at(-1)?.id).toBe(live?.id);
  });

  it('reports no gap when resuming from the newest id', async () => {
    const { url } = await startGateway({ ...env, HISTORY_PER_ROOM: '3' });
    const messages = await publishMany(url, 'short', 6);
    const stream = await openStream(`${url}/v1/rooms/short/events`, { 'last-event-id': messages[5]?.id ?? '' });
    const [live] = await publishMany(url, 'short', 1);
    const [first] = await stream.waitForEvents<ChatMessage>('message:new', 1);
    expect(first?.id).toBe(live?.id);
    expect(stream.dataOf('gap')).toEqual([]);
  });

  describe('at the seam between replay and live', () => {
    /** A memory store whose `after` is held until the test lets it go, reading history before or after the wait. */
    function heldStore(readAt: 'before-wait' | 'after-wait'): {
      store: MessageStore;
      release: () => void;
      waiting: () => boolean;
    } {
      const inner = new MemoryMessageStore({ historyPerRoom: 1000 });
      let release: () => void = () => {};
      const gate = new Promise<void>((resolve) => (release = resolve));
      let waiting = false;
      const store: MessageStore = {
        append: (input) => inner.append(input),
        latest: (room, limit) => inner.latest(room, limit),
        before: (room, beforeId, limit) => inner.before(room, beforeId, limit),
        async after(room, afterId, limit): Promise<HistoryAfter> {
          const early = readAt === 'before-wait' ? await inner.after(room, afterId, limit) : undefined;
          waiting = true;
          await gate;
          return early ?? inner.after(room, afterId, limit);
        },
      };
      return { store, release, waiting: () => waiting };
    }

    for (const readAt of ['before-wait', 'after-wait'] as const) {
      it(`delivers messages published during the replay exactly once (history read ${readAt})`, async () => {
        const held = heldStore(readAt);
        const { url } = await startGateway(env, { store: held.store });
        const [first, second] = await publishMany(url, 'seam', 2);
        const stream = await openStream(`${url}/v1/rooms/seam/events`, { 'last-event-id': first?.id ?? '' });
        await waitFor('the replay to wait', held.waiting);
        const during = await publishMany(url, 'seam', 3);
        held.release();
        await stream.waitForEvents<ChatMessage>('message:new', 4);
        const [after] = await publishMany(url, 'seam', 1);
        const all = await stream.waitForEvents<ChatMessage>('message:new', 5);
        expect(all.map((m) => m.id)).toEqual([second, ...during, after].map((m) => m?.id));
      });
    }
  });
});
