import { afterEach, describe, expect, it } from 'vitest';
import type { Ack, ChatMessage, HistoryPage, JoinRoomResult, SendMessageResult } from '@switchyard/protocol';
import type { Gateway } from '../src/index.js';
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

/** Presence events come quickly, so the tests wait little. */
const quickPresence = { PRESENCE_INTERVAL_MS: '20' };
/** Presence events only when a test says so (`flushed`): what one interval folds together is then exact. */
const manualPresence = { PRESENCE_INTERVAL_MS: '60000' };

/** Runs the presence interval now, and waits until its events reached `socket` (a round trip after them). */
async function flushed(gateway: Gateway, socket: TestSocket): Promise<void> {
  gateway.presence.flush();
  await roundTrip(socket, 'lobby');
}

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
    const { url } = await startGateway(quickPresence);
    const alice = await as(url, 'alice', 'u-alice');
    await join(alice, 'lobby');
    const first = await sendText(alice, 'lobby', 'one');
    const second = await sendText(alice, 'lobby', 'two');

    const bob = await as(url, 'bob', 'u-bob');
    const ack = await join(bob, 'lobby');
    expect(ack.room).toBe('lobby');
    expect(ack.mode).toBe('members');
    expect(ack.memberCount).toBe(2);
    expect(ack.messages).toEqual([first, second]);
    expect(ack.members.sort((a, b) => a.id.localeCompare(b.id))).toEqual([
      { id: 'u-alice', name: 'alice' },
      { id: 'u-bob', name: 'bob' },
    ]);
  });

  it('tells the room who joined and who left in one presence:diff per interval', async () => {
    const { url, gateway } = await startGateway(manualPresence);
    const alice = await as(url, 'alice', 'u-alice');
    const diffs = recordEvents(alice, 'presence:diff');
    await join(alice, 'lobby');
    await flushed(gateway, alice);
    // The joiner's own arrival comes back to it too: every event says where members are now.
    expect(diffs).toEqual([{ room: 'lobby', joined: [{ id: 'u-alice', name: 'alice' }], left: [], count: 1 }]);

    const bob = await as(url, 'bob', 'u-bob');
    const carol = await as(url, 'carol', 'u-carol');
    const ack = await join(bob, 'lobby');
    expect(ack.members.map((m) => m.id).sort()).toEqual(['u-alice', 'u-bob']);
    await join(carol, 'lobby');
    await flushed(gateway, alice);
    expect(diffs).toHaveLength(2);
    expect(diffs[1]?.joined.map((m) => m.id).sort()).toEqual(['u-bob', 'u-carol']);
    expect(diffs[1]).toMatchObject({ left: [], count: 3 });

    expect(await request(bob, 'room:leave', { room: 'lobby' })).toEqual({ ok: true, room: 'lobby' });
    carol.disconnect();
    await waitFor('carol gone', () => gateway.presence.view('lobby').count === 1);
    await flushed(gateway, alice);
    expect(diffs).toHaveLength(3);
    expect(diffs[2]?.left.map((m) => m.id).sort()).toEqual(['u-bob', 'u-carol']);
    expect(diffs[2]).toMatchObject({ joined: [], count: 1 });
  });

  it('never says a member left who left and came back within one interval', async () => {
    const { url, gateway } = await startGateway(manualPresence);
    const alice = await as(url, 'alice', 'u-alice');
    const bob = await as(url, 'bob', 'u-bob');
    await join(alice, 'lobby');
    await join(bob, 'lobby');
    await flushed(gateway, alice);
    const diffs = recordEvents(alice, 'presence:diff');

    bob.disconnect();
    await waitFor('bob gone', () => gateway.presence.view('lobby').count === 1);
    const bobAgain = await as(url, 'bob', 'u-bob');
    await join(bobAgain, 'lobby');
    await flushed(gateway, alice);
    // Bob's new join ack may have shown the room without him for a moment: his place is restated, never as a leave.
    expect(diffs).toEqual([{ room: 'lobby', joined: [{ id: 'u-bob', name: 'bob' }], left: [], count: 2 }]);
    const ack = await join(alice, 'lobby');
    expect(ack.members.map((m) => m.id).sort()).toEqual(['u-alice', 'u-bob']);
  });

  it('counts a user with two sockets as one member: presence changes on the first join and the last leave', async () => {
    const { url, gateway } = await startGateway(manualPresence);
    const alice = await as(url, 'alice', 'u-alice');
    await join(alice, 'lobby');
    await flushed(gateway, alice);
    const bobTab1 = await as(url, 'bob', 'u-bob');
    const bobTab2 = await as(url, 'bob', 'u-bob');
    const diffs = recordEvents(alice, 'presence:diff');

    await join(bobTab1, 'lobby');
    await flushed(gateway, alice);
    const ack = await join(bobTab2, 'lobby');
    expect(ack.members).toHaveLength(2);
    expect(ack.memberCount).toBe(2);
    bobTab1.disconnect();
    await waitFor('bob tab 1 gone', () => gateway.presence.socketsOf('lobby', 'u-bob') === 1);
    await flushed(gateway, alice);
    expect(diffs).toEqual([{ room: 'lobby', joined: [{ id: 'u-bob', name: 'bob' }], left: [], count: 2 }]);

    bobTab2.disconnect();
    await waitFor('bob gone', () => gateway.presence.socketsOf('lobby', 'u-bob') === 0);
    await flushed(gateway, alice);
    expect(diffs).toEqual([
      { room: 'lobby', joined: [{ id: 'u-bob', name: 'bob' }], left: [], count: 2 },
      { room: 'lobby', joined: [], left: [{ id: 'u-bob', name: 'bob' }], count: 1 },
    ]);
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
