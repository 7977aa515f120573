import { afterAll, beforeAll, afterEach, describe, expect, it } from 'vitest';
import type { ChatMessage, SseGap } from '@switchyard/protocol';
import {
  API_KEY,
  closeAll,
  MongoStandIn,
  openStream,
  publish,
  startGateway,
  startMongoGateways,
  waitFor,
} from '@switchyard/testkit';

/*
 * A `Last-Event-ID` the room's history does not hold — never issued (a guess, an id of another
 * deployment, an id from before a restart) or evicted — starts the stream with `event: gap`. The
 * replay rule: then come the held messages whose ids sort after it (ids order by plain string
 * comparison), which is none for an id sorting after every issued one, then live events.
 */

let mongo: MongoStandIn;
let databases = 0;
beforeAll(async () => {
  mongo = await MongoStandIn.start();
});
afterAll(async () => {
  await mongo?.stop();
});
afterEach(closeAll);

const NEVER_ISSUED = ['abc', '1', '9'.repeat(64), 'zzz'];

const modes = [
  ['in memory', async () => (await startGateway({ API_KEYS: API_KEY })).url],
  [
    'in MongoDB',
    async () => (await startMongoGateways(mongo, `unknown-ids-${++databases}`, ['gw1'], { API_KEYS: API_KEY }))[0]!.url,
  ],
] as const;

/**
 * Publishes `count` messages and waits until this node has delivered them (in MongoDB mode a
 * node's own broadcasts come back through the change stream), so a stream opened next sees them
 * as history, not live.
 */
async function publishMany(url: string, room: string, count: number): Promise<ChatMessage[]> {
  const watcher = await openStream(`${url}/v1/rooms/${room}/events`);
  const messages: ChatMessage[] = [];
  for (let i = 1; i <= count; i += 1) {
    const { status, body } = await publish(url, room, { text: `m${i}` });
    expect(status).toBe(201);
    messages.push(body as unknown as ChatMessage);
  }
  await watcher.waitForEvents('message:new', count);
  watcher.close();
  return messages;
}

describe.each(modes)('resuming %s from an id the room does not hold', (_mode, start) => {
  it.each(NEVER_ISSUED.map((id) => [id.length > 8 ? `${id.slice(0, 8)}… (${id.length})` : id, id]))(
    'Last-Event-ID %s: gap first, then live',
    async (_label, id) => {
      const url = await start();
      await publishMany(url, 'lobby', 3);
      const stream = await openStream(`${url}/v1/rooms/lobby/events`, { 'last-event-id': id });
      expect(stream.response.status).toBe(200);
      const [gap] = await stream.waitForEvents<SseGap>('gap', 1);
      expect(gap?.lastEventId).toBe(id);
      expect(stream.events[0]?.event).toBe('gap');
      await publish(url, 'lobby', { text: 'live' });
      const live = await stream.waitForEvents<ChatMessage>('message:new', 1);
      expect(live.at(-1)?.text).toBe('live');
    },
  );

  it('an id sorting before every message: gap, then the whole held history in order', async () => {
    const url = await start();
    const sent = await publishMany(url, 'lobby', 3);
    const stream = await openStream(`${url}/v1/rooms/lobby/events?lastEventId=0`);
    const [gap] = await stream.waitForEvents<SseGap>('gap', 1);
    expect(gap).toEqual({ lastEventId: '0', oldestAvailableId: sent[0]?.id });
    const replayed = await stream.waitForEvents<ChatMessage>('message:new', 3);
    expect(replayed.map((message) => message.id)).toEqual(sent.map((message) => message.id));
  });

  it('an id the room holds: no gap, only what came after it', async () => {
    const url = await start();
    const sent = await publishMany(url, 'lobby', 3);
    const stream = await openStream(`${url}/v1/rooms/lobby/events`, { 'last-event-id': sent[0]!.id });
    const replayed = await stream.waitForEvents<ChatMessage>('message:new', 2);
    expect(replayed.map((message) => message.text)).toEqual(['m2', 'm3']);
    await publish(url, 'lobby', { text: 'live' });
    await waitFor('the live message', () => stream.dataOf<ChatMessage>('message:new').length === 3);
    expect(stream.dataOf('gap')).toEqual([]);
  });
});
