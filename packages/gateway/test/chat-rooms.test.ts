import { afterEach, describe, expect, it } from 'vitest';
import type { Ack, ChatMessage, HistoryPage, JoinRoomResult, SendMessageResult } from '@switchyard/protocol';
import {
  closeAll,
  connect,
  disconnected,
  nextEvent,
  recordEvents,
  request,
  roundTrip,
  startGateway,
  type TestSocket,
  TRANSPORTS,
  waitFor,
} from '@switchyard/testkit';

afterEach(closeAll);

type Ok<T> = Extract<Ack<T & object>, { ok: true }>;

async function join(socket: TestSocket, room: string): Promise<Ok<JoinRoomResult>> {
  const ack = await request<Ack<JoinRoomResult>>(socket, 'room:join', { room });
  if (!ack.ok) throw new Error(`join refused: ${ack.error.code}`);
  return ack;
}

async function sendText(
  socket: TestSocket,
  room: string,
  text: string,
  clientMessageId: string = crypto.randomUUID(),
): Promise<ChatMessage> {
  const ack = await request<Ack<SendMessageResult>>(socket, 'message:send', { room, text, clientMessageId });
  if (!ack.ok) throw new Error(`send refused: ${ack.error.code}`);
  return ack.message;
}

describe.each(TRANSPORTS)('chat rooms over %s', (transport) => {
  const as = (url: string, name: string, userId?: string) =>
    connect(url, { transports: [transport], auth: { name, ...(userId === undefined ? {} : { userId }) } });

  it('delivers a sent message to a second client in the room, and acks the stored message', async () => {
    const { url } = await startGateway();
    const alice = await as(url, 'alice');
    const bob = await as(url, 'bob');
    await join(alice, 'lobby');
    await join(bob, 'lobby');

    const atBob = nextEvent(bob, 'message:new');
    const atAlice = nextEvent(alice, 'message:new');
    const stored = await sendText(alice, 'lobby', 'hello bob');

    expect(stored).toMatchObject({ room: 'lobby', text: 'hello bob', author: { name: 'alice' } });
    expect(typeof stored.id).toBe('string');
    expect(new Date(stored.sentAt).toISOString()).toBe(stored.sentAt);
    expect(await atBob).toEqual(stored);
    expect(await atAlice).toEqual(stored);
  });

  it('does not deliver messages to sockets outside the room', async () => {
    const { url } = await startGateway();
    const alice = await as(url, 'alice');
    const carol = await as(url, 'carol');
    await join(alice, 'lobby');
    await join(carol, 'elsewhere');
    const atCarol = recordEvents(carol, 'message:new');

    await sendText(alice, 'lobby', 'not for carol');
    await roundTrip(carol, 'elsewhere');
    expect(atCarol).toEqual([]);
  });

  it('acks a join with the members and the latest messages, oldest first', async () => {
    const { url } = await startGateway();
    const alice = await as(url, 'alice', 'u-alice');
    await join(alice, 'lobby');
    const first = await sendText(alice, 'lobby', 'one');
    const second = await sendText(alice, 'lobby', 'two');

    const bob = await as(url, 'bob', 'u-bob');
    const ack = await join(bob, 'lobby');
    expect(ack.room).toBe('lobby');
    expect(ack.messages).toEqual([first, second]);
    expect(ack.members.sort((a, b) => a.id.localeCompare(b.id))).toEqual([
      { id: 'u-alice', name: 'alice' },
      { id: 'u-bob', name: 'bob' },
    ]);
  });

  it('announces presence:join to the others when a user joins, and presence:leave when they leave', async () => {
    const { url } = await startGateway();
    const alice = await as(url, 'alice', 'u-alice');
    await join(alice, 'lobby');
    const bob = await as(url, 'bob', 'u-bob');

    const joined = nextEvent(alice, 'presence:join');
    const bobSeesHimself = recordEvents(bob, 'presence:join');
    await join(bob, 'lobby');
    expect(await joined).toEqual({ room: 'lobby', member: { id: 'u-bob', name: 'bob' } });

    const left = nextEvent(alice, 'presence:leave');
    expect(await request(bob, 'room:leave', { room: 'lobby' })).toEqual({ ok: true, room: 'lobby' });
    expect(await left).toEqual({ room: 'lobby', member: { id: 'u-bob', name: 'bob' } });
    await roundTrip(alice, 'lobby');
    expect(bobSeesHimself).toEqual([]);
  });

  it('announces presence:leave when a member disconnects', async () => {
    const { url } = await startGateway();
    const alice = await as(url, 'alice', 'u-alice');
    const bob = await as(url, 'bob', 'u-bob');
    await join(alice, 'lobby');
    await join(bob, 'lobby');

    const left = nextEvent(alice, 'presence:leave');
    bob.disconnect();
    expect(await left).toEqual({ room: 'lobby', member: { id: 'u-bob', name: 'bob' } });
    const ack = await join(alice, 'lobby');
    expect(ack.members).toEqual([{ id: 'u-alice', name: 'alice' }]);
  });

  it('counts a user with two sockets as one member: presence changes on the first join and the last leave', async () => {
    const { url } = await startGateway();
    const alice = await as(url, 'alice', 'u-alice');
    await join(alice, 'lobby');
    const bobTab1 = await as(url, 'bob', 'u-bob');
    const bobTab2 = await as(url, 'bob', 'u-bob');
    const joins = recordEvents(alice, 'presence:join');
    const leaves = recordEvents(alice, 'presence:leave');

    await join(bobTab1, 'lobby');
    const ack = await join(bobTab2, 'lobby');
    expect(ack.members).toHaveLength(2);
    bobTab1.disconnect();
    await waitFor('bob tab 1 gone', async () => (await join(alice, 'lobby')).members.length === 2);
    await roundTrip(alice, 'lobby');
    expect(joins).toHaveLength(1);
    expect(leaves).toHaveLength(0);

    const left = nextEvent(alice, 'presence:leave');
    bobTab2.disconnect();
    expect(await left).toEqual({ room: 'lobby', member: { id: 'u-bob', name: 'bob' } });
  });

  it('sends typing to the others in the room but not to the sender', async () => {
    const { url } = await startGateway();
    const alice = await as(url, 'alice', 'u-alice');
    const bob = await as(url, 'bob', 'u-bob');
    await join(alice, 'lobby');
    await join(bob, 'lobby');
    const atAlice = recordEvents(alice, 'typing');

    // `typing` is volatile: a polling transport between two requests may drop one, so repeat.
    const atBob = nextEvent(bob, 'typing');
    let received = false;
    void atBob.then(() => (received = true));
    await waitFor('typing at bob', async () => {
      expect(await request(alice, 'typing', { room: 'lobby' })).toEqual({ ok: true });
      return received || (await Promise.race([atBob.then(() => true), new Promise((r) => setTimeout(r, 200, false))]));
    });
    expect(await atBob).toEqual({ room: 'lobby', member: { id: 'u-alice', name: 'alice' } });
    // The acks came after any typing the gateway might have sent back to alice.
    expect(atAlice).toEqual([]);
  });

  it('pages through history with before and limit', async () => {
    const { url } = await startGateway({ RATE_LIMIT_BURST: '100' });
    const alice = await as(url, 'alice');
    await join(alice, 'lobby');
    const sent: ChatMessage[] = [];
    for (let i = 1; i <= 7; i += 1) sent.push(await sendText(alice, 'lobby', `m${i}`));

    const newest = await request<Ack<HistoryPage>>(alice, 'history:fetch', { room: 'lobby', limit: 3 });
    expect(newest).toEqual({ ok: true, room: 'lobby', messages: sent.slice(4), hasMore: true });
    const older = await request<Ack<HistoryPage>>(alice, 'history:fetch', {
      room: 'lobby',
      limit: 3,
      before: sent[4]!.id,
    });
    expect(older).toEqual({ ok: true, room: 'lobby', messages: sent.slice(1, 4), hasMore: true });
    const oldest = await request<Ack<HistoryPage>>(alice, 'history:fetch', {
      room: 'lobby',
      limit: 3,
      before: sent[1]!.id,
    });
    expect(oldest).toEqual({ ok: true, room: 'lobby', messages: sent.slice(0, 1), hasMore: false });
    const all = await request<Ack<HistoryPage>>(alice, 'history:fetch', { room: 'lobby' });
    expect(all).toEqual({ ok: true, room: 'lobby', messages: sent, hasMore: false });
  });

  it('stores and broadcasts a retried clientMessageId once, and answers the retry with the same ack', async () => {
    const { url } = await startGateway();
    const alice = await as(url, 'alice', 'u-alice');
    const bob = await as(url, 'bob', 'u-bob');
    await join(alice, 'lobby');
    await join(bob, 'lobby');
    const atBob = recordEvents(bob, 'message:new');

    const payload = { room: 'lobby', text: 'only once', clientMessageId: 'c-1' };
    const first = await request(alice, 'message:send', payload);
    const retry = await request(alice, 'message:send', payload);
    expect(retry).toEqual(first);

    await waitFor('the broadcast at bob', () => atBob.length >= 1);
    await roundTrip(bob, 'lobby');
    expect(atBob).toHaveLength(1);
    const history = await request<Ack<HistoryPage>>(bob, 'history:fetch', { room: 'lobby' });
    expect(history.ok && history.messages.map((m) => m.text)).toEqual(['only once']);
  });

  it('keeps clientMessageIds of different users apart', async () => {
    const { url } = await startGateway();
    const alice = await as(url, 'alice', 'u-alice');
    const bob = await as(url, 'bob', 'u-bob');
    await join(alice, 'lobby');
    await join(bob, 'lobby');
    const fromAlice = await sendText(alice, 'lobby', 'a', 'same-id');
    const fromBob = await sendText(bob, 'lobby', 'b', 'same-id');
    expect(fromBob.id).not.toBe(fromAlice.id);
    expect(fromBob.author.id).toBe('u-bob');
  });

  it('closes the connection of a client whose packet exceeds MAX_HTTP_BUFFER_SIZE, and keeps serving others', async () => {
    const { url } = await startGateway({ MAX_HTTP_BUFFER_SIZE: '2048' });
    const alice = await as(url, 'alice');
    const bob = await as(url, 'bob');
    await join(bob, 'lobby');
    const gone = disconnected(alice);
    alice.emit('message:send', { room: 'lobby', text: 'x'.repeat(10_000), clientMessageId: 'big' }, () => undefined);
    expect(await gone).toMatch(/transport (close|error)/);
    expect((await sendText(bob, 'lobby', 'still here')).text).toBe('still here');
  });
});
