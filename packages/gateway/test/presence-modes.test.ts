import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Ack, JoinRoomResult, MembersPage, PresenceCount, PresenceDiff } from '@switchyard/protocol';
import type { Gateway } from '../src/index.js';
import {
  closeAll,
  connect,
  metricValue,
  recordEvents,
  request,
  roundTrip,
  startGateway,
  type TestSocket,
  waitFor,
} from '@switchyard/testkit';

/*
 * Presence in both modes, with real clients. The presence interval is set far out and run by the
 * test (`gateway.presence.flush()`), so what one interval folds together is exact, not timed.
 */

afterEach(closeAll);

type JoinAck = Extract<Ack<JoinRoomResult>, { ok: true }>;

/** Large above 5 members; back to members mode at 4 (90 %) or fewer. */
const THRESHOLD = 5;
const env = { PRESENCE_INTERVAL_MS: '60000', LARGE_ROOM_THRESHOLD: String(THRESHOLD), RATE_LIMIT_BURST: '1000' };

async function join(socket: TestSocket, room = 'hall'): Promise<JoinAck> {
  const ack = await request<Ack<JoinRoomResult>>(socket, 'room:join', { room });
  if (!ack.ok) throw new Error(`join refused: ${ack.error.code}`);
  return ack;
}

async function page(socket: TestSocket, cursor?: string, limit?: number): Promise<MembersPage> {
  const ack = await request<Ack<MembersPage>>(socket, 'members:list', {
    room: 'hall',
    ...(cursor === undefined ? {} : { cursor }),
    ...(limit === undefined ? {} : { limit }),
  });
  if (!ack.ok) throw new Error(`members:list refused: ${ack.error.code}`);
  return ack;
}

function users(url: string, ids: string[]): Promise<TestSocket[]> {
  return Promise.all(
    ids.map((id) => connect(url, { transports: ['websocket'], auth: { name: `N ${id}`, userId: id } })),
  );
}

/** The interval's work now, and a round trip on each socket so its events have arrived. */
async function flushed(gateway: Gateway, ...sockets: TestSocket[]): Promise<void> {
  gateway.presence.flush();
  await Promise.all(sockets.map((socket) => roundTrip(socket, 'hall')));
}

describe('members mode', () => {
  it('folds any number of joins into one presence:diff per interval, without asking the adapter', async () => {
    const { gateway, url } = await startGateway({ ...env, LARGE_ROOM_THRESHOLD: '100' });
    const fetchSockets = vi.spyOn(gateway.io.of('/').adapter, 'fetchSockets');
    const [observer, ...others] = await users(
      url,
      Array.from({ length: 40 }, (_, i) => `u${String(i).padStart(2, '0')}`),
    );
    await join(observer!);
    await flushed(gateway, observer!);
    const diffs = recordEvents(observer!, 'presence:diff');
    const sentBefore = await metricValue(url, 'switchyard_events_out_total', '{event="presence:diff"}');

    const acks = await Promise.all(others.map((socket) => join(socket)));
    await flushed(gateway, observer!);
    expect(diffs).toHaveLength(1);
    expect(diffs[0]!.joined.map((m) => m.id).sort()).toEqual(
      others.map((_, i) => `u${String(i + 1).padStart(2, '0')}`),
    );
    expect(diffs[0]).toMatchObject({ left: [], count: 40 });
    // One broadcast for the room, whatever the number of joins.
    expect(await metricValue(url, 'switchyard_events_out_total', '{event="presence:diff"}')).toBe(sentBefore + 1);
    // Each ack listed the room as it was at that join: the joiner and everyone before it.
    for (const ack of acks) {
      expect(ack.mode).toBe('members');
      expect(ack.members).toHaveLength(ack.memberCount);
    }
    expect(Math.max(...acks.map((ack) => ack.memberCount))).toBe(40);
    expect(fetchSockets).not.toHaveBeenCalled();
  });

  it('pages the member list by id with a cursor, every member once', async () => {
    const { url } = await startGateway({ ...env, LARGE_ROOM_THRESHOLD: '100' });
    const ids = ['d', 'a', 'e', 'c', 'b', 'f', 'g'];
    const sockets = await users(url, ids);
    for (const socket of sockets) await join(socket);
    const first = await page(sockets[0]!, undefined, 3);
    expect(first).toMatchObject({ room: 'hall', mode: 'members', count: 7, nextCursor: 'c' });
    expect(first.members.map((m) => m.id)).toEqual(['a', 'b', 'c']);
    const second = await page(sockets[0]!, first.nextCursor, 3);
    expect(second.members.map((m) => m.id)).toEqual(['d', 'e', 'f']);
    const last = await page(sockets[0]!, second.nextCursor, 3);
    expect(last.members.map((m) => m.id)).toEqual(['g']);
    expect(last.nextCursor).toBeUndefined();
    expect(last.members[0]).toEqual({ id: 'g', name: 'N g' });
  });

  it('refuses members:list outside the room and a malformed page', async () => {
    const { url } = await startGateway(env);
    const [stranger] = await users(url, ['s']);
    const refused = await request<Ack<MembersPage>>(stranger!, 'members:list', { room: 'hall' });
    expect(refused).toMatchObject({ ok: false, error: { code: 'NOT_IN_ROOM' } });
    await join(stranger!);
    const tooMany = await request<Ack<MembersPage>>(stranger!, 'members:list', { room: 'hall', limit: 501 });
    expect(tooMany).toMatchObject({ ok: false, error: { code: 'INVALID_PAYLOAD' } });
  });
});

describe('large mode', () => {
  it('switches to counts above the threshold and back to the member list at 90 % of it', async () => {
    const { gateway, url } = await startGateway(env);
    const sockets = await users(url, ['a', 'b', 'c', 'd', 'e', 'f', 'g']);
    const [a, b, c, d, e, f, g] = sockets as [
      TestSocket,
      TestSocket,
      TestSocket,
      TestSocket,
      TestSocket,
      TestSocket,
      TestSocket,
    ];
    const diffs = recordEvents(a, 'presence:diff');
    const counts = recordEvents(a, 'presence:count');
    for (const socket of [a, b, c, d, e]) await join(socket);
    await flushed(gateway, a);
    expect(diffs.at(-1)).toMatchObject({ count: 5 });
    expect(counts).toEqual([]);

    // The sixth member makes the room large at once: its own ack already says so, with no list.
    const sixth = await join(f);
    expect(sixth).toMatchObject({ mode: 'large', memberCount: 6, members: [] });
    await flushed(gateway, a);
    expect(counts).toEqual([{ room: 'hall', count: 6 }]);
    const diffsWhenLarge = diffs.length;

    // In large mode joins and leaves move the count only (a room of 5 with a threshold of 5: every interval).
    await join(g);
    b.disconnect();
    c.disconnect();
    await waitFor('b and c gone', () => gateway.presence.view('hall').count === 5);
    await flushed(gateway, a);
    expect(counts).toEqual([
      { room: 'hall', count: 6 },
      { room: 'hall', count: 5 },
    ]);
    expect(diffs).toHaveLength(diffsWhenLarge);
    const listed = await page(a, undefined, 10);
    expect(listed).toMatchObject({ mode: 'large', count: 5 });
    expect(listed.members.map((m) => m.id)).toEqual(['a', 'd', 'e', 'f', 'g']);

    // Down to 4 (90 % of 5): members mode again, with the whole list once.
    d.disconnect();
    await waitFor('d gone', () => gateway.presence.view('hall').count === 4);
    await flushed(gateway, a);
    const full = diffs.at(-1) as PresenceDiff;
    expect(full).toMatchObject({ room: 'hall', left: [], count: 4, full: true });
    expect(full.joined.map((m) => m.id).sort()).toEqual(['a', 'e', 'f', 'g']);
    expect(counts).toHaveLength(2);
    const back = await join((await users(url, ['b2']))[0]!);
    expect(back.mode).toBe('members');
    expect(back.members.map((m) => m.id).sort()).toEqual(['a', 'b2', 'e', 'f', 'g']);
  });

  it('pages a large room’s members across joins and leaves: nobody twice, everyone present throughout listed', async () => {
    const { gateway, url } = await startGateway(env);
    const ids = Array.from({ length: 30 }, (_, i) => `m${String(i).padStart(2, '0')}`);
    const sockets = await users(url, ids);
    for (const socket of sockets) await join(socket);
    expect(gateway.presence.view('hall')).toMatchObject({ mode: 'large', count: 30, members: [] });
    const reader = sockets[0]!;
    const seen: string[] = [];
    let cursor: string | undefined;
    for (;;) {
      const next = await page(reader, cursor, 7);
      seen.push(...next.members.map((m) => m.id));
      // Churn between pages: one who was read leaves, one behind the cursor arrives.
      if (cursor === undefined) {
        sockets[1]!.disconnect();
        await join((await users(url, ['a-late']))[0]!);
      }
      if (next.nextCursor === undefined) break;
      cursor = next.nextCursor;
    }
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.filter((id) => id !== 'm01')).toEqual(ids.filter((id) => id !== 'm01'));
  });

  it('turns typing off in a large room and keeps it in a small one', async () => {
    const { gateway, url } = await startGateway(env);
    const sockets = await users(url, ['a', 'b', 'c', 'd', 'e', 'f']);
    const [a, b] = sockets as [TestSocket, TestSocket];
    await join(a);
    await join(b);
    const typing = recordEvents(b, 'typing');
    expect(await request(a, 'typing', { room: 'hall' })).toEqual({ ok: true });
    await waitFor('typing delivered', () => typing.length === 1);
    for (const socket of sockets.slice(2)) await join(socket);
    expect(gateway.presence.isLarge('hall')).toBe(true);
    expect(await request(a, 'typing', { room: 'hall' })).toEqual({ ok: true });
    await roundTrip(b, 'hall');
    await request(a, 'message:send', { room: 'hall', text: 'after typing', clientMessageId: 'x' });
    await roundTrip(b, 'hall');
    expect(typing).toHaveLength(1);
  });

  it('costs one presence event per room however many join, told less often the larger the room', async () => {
    const { gateway, url } = await startGateway({ ...env, LARGE_ROOM_THRESHOLD: '10' });
    const sockets = await users(
      url,
      Array.from({ length: 60 }, (_, i) => `v${i}`),
    );
    const [observer] = sockets as [TestSocket];
    await join(observer);
    const counts = recordEvents(observer, 'presence:count');
    const diffs = recordEvents(observer, 'presence:diff');
    await Promise.all(sockets.slice(1).map((socket) => join(socket)));
    await flushed(gateway, observer);
    await Promise.all(sockets.slice(31).map((socket) => request(socket, 'room:leave', { room: 'hall' })));
    // 31 members, 10 a threshold: a count every ⌈31 / 10⌉ = 4 intervals.
    for (let interval = 1; interval <= 3; interval += 1) await flushed(gateway, observer);
    expect(counts).toHaveLength(1);
    await flushed(gateway, observer);
    expect(diffs).toEqual([]);
    expect(counts).toEqual([
      { room: 'hall', count: 60 },
      { room: 'hall', count: 31 },
    ] satisfies PresenceCount[]);
    expect(await metricValue(url, 'switchyard_events_out_total', '{event="presence:count"}')).toBe(2);
    expect(await metricValue(url, 'switchyard_rooms_large')).toBe(1);
  });
});
