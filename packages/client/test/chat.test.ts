import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ChatMessage, type PresenceChange, SwitchyardClientError, type TypingEvent } from '../src/index.js';
import { ClientPool, type StartedGateway, startGateway, waitFor } from '@switchyard/testkit';

let gateway: StartedGateway;
beforeAll(async () => {
  gateway = await startGateway({
    MAX_MESSAGE_LENGTH: '100',
    MAX_ROOMS_PER_SOCKET: '3',
    RATE_LIMIT_BURST: '200',
    RATE_LIMIT_PER_SECOND: '200',
    PRESENCE_INTERVAL_MS: '20',
  });
});
afterAll(() => gateway.close());

let roomCounter = 0;
const freshRoom = () => `chat-${process.pid}-${++roomCounter}`;

describe.each(['polling', 'websocket'] as const)('chat over %s', (transport) => {
  const pool = new ClientPool([transport]);
  afterEach(() => pool.closeAll());

  it('delivers a message to everyone in the room once, and resolves send with the stored message', async () => {
    const name = freshRoom();
    const alice = await pool.client(gateway.url, { name: 'alice' }).join(name);
    const bob = await pool.client(gateway.url, { name: 'bob' }).join(name);
    const seenByAlice: ChatMessage[] = [];
    const seenByBob: ChatMessage[] = [];
    alice.on('message', (message) => seenByAlice.push(message));
    bob.on('message', (message) => seenByBob.push(message));

    const stored = await alice.send('hello bob');

    expect(stored).toMatchObject({ room: name, text: 'hello bob', author: { name: 'alice' } });
    expect(stored.id).toEqual(expect.any(String));
    await waitFor('bob to receive the message', () => seenByBob.length === 1);
    expect(seenByBob[0]).toEqual(stored);
    const reply = await bob.send('hi alice');
    await waitFor('alice to receive the reply', () => seenByAlice.length === 2);
    // Alice's own message reaches her listener once although it came both in the ack and live.
    expect(seenByAlice.map((message) => message.id)).toEqual([stored.id, reply.id]);
  });

  it('lists members on join and announces joins and leaves', async () => {
    const name = freshRoom();
    const aliceClient = pool.client(gateway.url, { name: 'alice' });
    const alice = await aliceClient.join(name);
    const changes: PresenceChange[] = [];
    alice.on('presence', (change) => changes.push(change));
    expect(alice.members.map((member) => member.name)).toEqual(['alice']);
    expect(alice).toMatchObject({ count: 1, mode: 'members' });

    const bobClient = pool.client(gateway.url, { name: 'bob' });
    const bob = await bobClient.join(name);
    expect(bob.members.map((member) => member.name).sort()).toEqual(['alice', 'bob']);
    expect(bob.count).toBe(2);
    await waitFor('presence join', () => changes.length === 1);
    expect(changes[0]).toMatchObject({ type: 'join', room: name, member: { name: 'bob' } });
    expect(alice.members.map((member) => member.name).sort()).toEqual(['alice', 'bob']);
    expect(alice.count).toBe(2);
    const page = await alice.listMembers({ limit: 1 });
    expect(page).toMatchObject({ room: name, mode: 'members', count: 2 });
    expect(page.members).toHaveLength(1);
    expect((await alice.listMembers({ cursor: page.nextCursor })).members).toHaveLength(1);

    await bob.leave();
    await waitFor('presence leave', () => changes.length === 2);
    expect(changes[1]).toMatchObject({ type: 'leave', room: name, member: { name: 'bob' } });
    expect(alice.members.map((member) => member.name)).toEqual(['alice']);
    expect(alice.count).toBe(1);
    expect(bobClient.room(name)).toBeUndefined();
  });

  it('announces a member whose connection closed as gone', async () => {
    const name = freshRoom();
    const alice = await pool.client(gateway.url, { name: 'alice' }).join(name);
    const leaves: PresenceChange[] = [];
    alice.on('presence', (change) => change.type === 'leave' && leaves.push(change));
    const bobClient = pool.client(gateway.url, { name: 'bob' });
    await bobClient.join(name);
    // Once alice knows bob is here (a join and a leave within one presence interval are no news at all).
    await waitFor('bob listed', () => alice.members.length === 2);
    bobClient.close();
    await waitFor('presence leave after close', () => leaves.length === 1);
    expect(leaves[0]?.member.name).toBe('bob');
  });

  it('tells the others that someone is typing', async () => {
    const name = freshRoom();
    const alice = await pool.client(gateway.url, { name: 'alice', typingIntervalMs: 0 }).join(name);
    const bob = await pool.client(gateway.url, { name: 'bob' }).join(name);
    const typing: TypingEvent[] = [];
    bob.on('typing', (event) => typing.push(event));

    // Typing is volatile end to end (a polling client between two polls misses it), so keep typing.
    await waitFor('a typing event', () => {
      alice.typing();
      return typing.length > 0;
    });

    expect(typing[0]).toMatchObject({ room: name, member: { name: 'alice' } });
  });

  it('throttles typing events', async () => {
    const client = pool.client(gateway.url, { name: 'alice', typingIntervalMs: 60_000 });
    const room = await client.join(freshRoom());
    let sent = 0;
    client.socket.onAnyOutgoing((event: string) => void (event === 'typing' && sent++));

    for (let i = 0; i < 5; i++) room.typing();

    expect(sent).toBe(1);
  });

  it('returns the latest messages on join and pages back through history', async () => {
    const name = freshRoom();
    const alice = await pool.client(gateway.url, { name: 'alice' }).join(name);
    const sent: ChatMessage[] = [];
    for (let i = 1; i <= 7; i++) sent.push(await alice.send(`m${i}`));

    const bob = await pool.client(gateway.url, { name: 'bob' }).join(name);
    expect(bob.initialMessages.map((message) => message.text)).toEqual(['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7']);

    const latest = await bob.history({ limit: 3 });
    expect(latest).toMatchObject({ room: name, hasMore: true });
    expect(latest.messages.map((message) => message.text)).toEqual(['m5', 'm6', 'm7']);
    const older = await bob.history({ before: latest.messages[0]?.id, limit: 3 });
    expect(older.messages.map((message) => message.text)).toEqual(['m2', 'm3', 'm4']);
    expect(older.hasMore).toBe(true);
    const oldest = await bob.history({ before: older.messages[0]?.id, limit: 3 });
    expect(oldest.messages.map((message) => message.id)).toEqual([sent[0]?.id]);
    expect(oldest.hasMore).toBe(false);
  });

  it("rejects with the gateway's error code", async () => {
    const client = pool.client(gateway.url, { name: 'alice' });
    const name = freshRoom();
    const room = await client.join(name);

    await expect(client.join('no spaces allowed')).rejects.toMatchObject({
      name: 'SwitchyardClientError',
      code: 'INVALID_ROOM',
      event: 'room:join',
    });
    await expect(room.send('x'.repeat(101))).rejects.toMatchObject({ code: 'MESSAGE_TOO_LONG', event: 'message:send' });
    await expect(room.send('')).rejects.toMatchObject({ code: 'INVALID_PAYLOAD' });
    await expect(room.history({ limit: 1000 })).rejects.toMatchObject({
      code: 'INVALID_PAYLOAD',
      event: 'history:fetch',
    });

    // Leave behind the SDK's back: the gateway, not the SDK, refuses the send.
    const left = await client.socket.emitWithAck('room:leave', { room: name });
    expect(left.ok).toBe(true);
    const refusal = await room.send('anyone?').catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(SwitchyardClientError);
    expect(refusal).toMatchObject({ code: 'NOT_IN_ROOM', event: 'message:send' });

    // The gateway counts 0 rooms for this socket now; MAX_ROOMS_PER_SOCKET is 3.
    for (let i = 0; i < 3; i++) await client.join(freshRoom());
    await expect(client.join(freshRoom())).rejects.toMatchObject({ code: 'TOO_MANY_ROOMS' });
  });

  it('refuses to use a room after leaving it, without asking the gateway', async () => {
    const client = pool.client(gateway.url, { name: 'alice' });
    const room = await client.join(freshRoom());
    await room.leave();
    expect(room.joined).toBe(false);
    expect(client.rooms).toEqual([]);
    await expect(room.send('hello?')).rejects.toMatchObject({ code: 'NOT_IN_ROOM' });
    await expect(room.history()).rejects.toMatchObject({ code: 'NOT_IN_ROOM' });
  });

  it('returns the same handle when a room is joined twice', async () => {
    const client = pool.client(gateway.url, { name: 'alice' });
    const name = freshRoom();
    const [first, second] = await Promise.all([client.join(name), client.join(name)]);
    expect(second).toBe(first);
    expect(await client.join(name)).toBe(first);
    expect(client.rooms).toEqual([first]);
  });
});
