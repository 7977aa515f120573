import { afterEach, describe, expect, it } from 'vitest';
import { type Ack, ERRORS, type ErrorCode, LIMITS } from '@switchyard/protocol';
import {
  closeAll,
  connect,
  connectError,
  nextEvent,
  request,
  send,
  socketTo,
  startGateway,
  type TestSocket,
  TRANSPORTS,
} from '@switchyard/testkit';

afterEach(closeAll);

function refusedWith(code: ErrorCode) {
  return { ok: false, error: { code, message: expect.any(String) } };
}

async function rejectedCount(url: string, event: string, code: ErrorCode): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`switchyard_events_rejected_total{event="${event}",code="${code}"}`));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

describe.each(TRANSPORTS)('refused events over %s', (transport) => {
  const client = (url: string, auth: Record<string, unknown> = { name: 'alice' }) =>
    connect(url, { transports: [transport], auth });

  it('answers a payload that does not match the schema with INVALID_PAYLOAD and counts it', async () => {
    const { url } = await startGateway();
    const alice = await client(url);
    await request(alice, 'room:join', { room: 'lobby' });
    expect(await request(alice, 'message:send', { room: 'lobby', text: 42, clientMessageId: 'x' })).toEqual(
      refusedWith('INVALID_PAYLOAD'),
    );
    expect(await request(alice, 'message:send', { room: 'lobby', text: 'hi' })).toEqual(refusedWith('INVALID_PAYLOAD'));
    expect(await request(alice, 'room:join', { room: 'lobby', extra: true })).toEqual(refusedWith('INVALID_PAYLOAD'));
    expect(await request(alice, 'history:fetch', { room: 'lobby', limit: LIMITS.historyPage.max + 1 })).toEqual(
      refusedWith('INVALID_PAYLOAD'),
    );
    expect(await request(alice, 'room:join', 'lobby')).toEqual(refusedWith('INVALID_PAYLOAD'));
    expect(await request(alice, 'room:join', null)).toEqual(refusedWith('INVALID_PAYLOAD'));
    expect(await request(alice, 'room:join')).toEqual(refusedWith('INVALID_PAYLOAD'));
    expect(await rejectedCount(url, 'message:send', 'INVALID_PAYLOAD')).toBe(2);
    expect(await rejectedCount(url, 'room:join', 'INVALID_PAYLOAD')).toBe(4);
  });

  it('answers a malformed room name with INVALID_ROOM', async () => {
    const { url } = await startGateway();
    const alice = await client(url);
    for (const room of ['', '-starts-with-dash', 'has space', 'x'.repeat(65), 'semi;colon', 42]) {
      expect(await request(alice, 'room:join', { room })).toEqual(refusedWith('INVALID_ROOM'));
    }
    expect(await rejectedCount(url, 'room:join', 'INVALID_ROOM')).toBe(6);
  });

  it('answers an event outside the protocol with UNKNOWN_EVENT, by ack or by gateway:error', async () => {
    const { url } = await startGateway();
    const alice = await client(url);
    expect(await request(alice, 'admin:drop-tables', { please: true })).toEqual(refusedWith('UNKNOWN_EVENT'));
    const pushed = nextEvent(alice, 'gateway:error');
    send(alice, 'no-such-event', 1, 2, 3);
    expect(await pushed).toEqual({ code: 'UNKNOWN_EVENT', message: expect.any(String), event: 'no-such-event' });
    expect(await rejectedCount(url, 'unknown', 'UNKNOWN_EVENT')).toBe(2);
  });

  it('answers events for a room the socket has not joined with NOT_IN_ROOM', async () => {
    const { url } = await startGateway();
    const alice = await client(url);
    expect(await request(alice, 'message:send', { room: 'lobby', text: 'hi', clientMessageId: 'c' })).toEqual(
      refusedWith('NOT_IN_ROOM'),
    );
    expect(await request(alice, 'typing', { room: 'lobby' })).toEqual(refusedWith('NOT_IN_ROOM'));
    expect(await request(alice, 'history:fetch', { room: 'lobby' })).toEqual(refusedWith('NOT_IN_ROOM'));
    expect(await request(alice, 'room:leave', { room: 'lobby' })).toEqual(refusedWith('NOT_IN_ROOM'));
    await request(alice, 'room:join', { room: 'lobby' });
    await request(alice, 'room:leave', { room: 'lobby' });
    expect(await request(alice, 'message:send', { room: 'lobby', text: 'hi', clientMessageId: 'c' })).toEqual(
      refusedWith('NOT_IN_ROOM'),
    );
  });

  it('answers text longer than MAX_MESSAGE_LENGTH with MESSAGE_TOO_LONG and stores nothing', async () => {
    const { url } = await startGateway({ MAX_MESSAGE_LENGTH: '10' });
    const alice = await client(url);
    await request(alice, 'room:join', { room: 'lobby' });
    expect(await request(alice, 'message:send', { room: 'lobby', text: 'x'.repeat(11), clientMessageId: 'c' })).toEqual(
      refusedWith('MESSAGE_TOO_LONG'),
    );
    expect(
      await request(alice, 'message:send', { room: 'lobby', text: 'x'.repeat(10), clientMessageId: 'd' }),
    ).toMatchObject({ ok: true });
    expect(await request(alice, 'history:fetch', { room: 'lobby' })).toMatchObject({
      messages: [{ clientMessageId: 'd' }],
    });
    expect(await rejectedCount(url, 'message:send', 'MESSAGE_TOO_LONG')).toBe(1);
  });

  it('answers a join beyond MAX_ROOMS_PER_SOCKET with TOO_MANY_ROOMS; rejoining a joined room is fine', async () => {
    const { url } = await startGateway({ MAX_ROOMS_PER_SOCKET: '2' });
    const alice = await client(url);
    expect(await request(alice, 'room:join', { room: 'a' })).toMatchObject({ ok: true });
    expect(await request(alice, 'room:join', { room: 'b' })).toMatchObject({ ok: true });
    expect(await request(alice, 'room:join', { room: 'c' })).toEqual(refusedWith('TOO_MANY_ROOMS'));
    expect(await request(alice, 'room:join', { room: 'a' })).toMatchObject({ ok: true, room: 'a' });
    await request(alice, 'room:leave', { room: 'b' });
    expect(await request(alice, 'room:join', { room: 'c' })).toMatchObject({ ok: true });
    expect(await rejectedCount(url, 'room:join', 'TOO_MANY_ROOMS')).toBe(1);
  });

  it('answers a flood beyond the token bucket with RATE_LIMITED', async () => {
    const { url } = await startGateway({ RATE_LIMIT_BURST: '5', RATE_LIMIT_PER_SECOND: '0.01' });
    const alice = await client(url);
    const answers = await Promise.all(
      Array.from({ length: 8 }, () => request<Ack>(alice, 'room:join', { room: 'lobby' })),
    );
    expect(answers.slice(0, 5).every((a) => a.ok)).toBe(true);
    expect(answers.slice(5)).toEqual([
      refusedWith('RATE_LIMITED'),
      refusedWith('RATE_LIMITED'),
      refusedWith('RATE_LIMITED'),
    ]);
    expect(await rejectedCount(url, 'room:join', 'RATE_LIMITED')).toBe(3);
  });

  it('limits each socket on its own', async () => {
    const { url } = await startGateway({ RATE_LIMIT_BURST: '1', RATE_LIMIT_PER_SECOND: '0.01' });
    const alice = await client(url);
    const bob = await client(url, { name: 'bob' });
    expect(await request(alice, 'room:join', { room: 'lobby' })).toMatchObject({ ok: true });
    expect(await request(alice, 'room:join', { room: 'lobby' })).toEqual(refusedWith('RATE_LIMITED'));
    expect(await request(bob, 'room:join', { room: 'lobby' })).toMatchObject({ ok: true });
  });

  it('emits gateway:error for a refused event sent without an ack', async () => {
    const { url } = await startGateway();
    const alice = await client(url);
    const pushed = nextEvent(alice, 'gateway:error');
    send(alice, 'typing', { room: 'lobby' });
    expect(await pushed).toEqual({ code: 'NOT_IN_ROOM', message: ERRORS.NOT_IN_ROOM.message, event: 'typing' });
  });

  it('survives odd argument shapes: missing payload, extra arguments, non-function "acks"', async () => {
    const { url } = await startGateway();
    const alice = await client(url);
    const pushed = nextEvent(alice, 'gateway:error');
    send(alice, 'message:send');
    expect(await pushed).toMatchObject({ code: 'INVALID_PAYLOAD', event: 'message:send' });
    send(alice, 'room:join', { room: 'lobby' }, 'not-a-callback');
    send(alice, 'room:join', { room: 'lobby' }, { also: 'not a callback' }, 7);
    expect(await request(alice, 'room:join', { room: 'lobby' }, 'extra')).toMatchObject({ ok: true, room: 'lobby' });
    expect(alice.connected).toBe(true);
  });
});

describe('sockets per user', () => {
  it('refuses a connection beyond MAX_SOCKETS_PER_USER with TOO_MANY_SOCKETS, and frees the slot on disconnect', async () => {
    const { url } = await startGateway({ MAX_SOCKETS_PER_USER: '2' });
    const auth = { name: 'alice', userId: 'u-alice' };
    const first = await connect(url, { transports: ['websocket'], auth });
    await connect(url, { transports: ['websocket'], auth });
    const third = socketTo(url, { transports: ['websocket'], auth });
    const refused = await connectError(third);
    expect(refused.data).toEqual({ code: 'TOO_MANY_SOCKETS', message: ERRORS.TOO_MANY_SOCKETS.message });
    await connect(url, { transports: ['websocket'], auth: { name: 'bob', userId: 'u-bob' } });

    first.disconnect();
    let fourth: TestSocket | undefined;
    // The slot is freed when the server sees the disconnect; poll rather than guess when.
    for (let attempt = 0; attempt < 50 && !fourth; attempt += 1) {
      try {
        fourth = await connect(url, { transports: ['websocket'], auth });
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    expect(fourth?.connected).toBe(true);
  });
});
