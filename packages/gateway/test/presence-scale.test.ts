import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Ack, JoinRoomResult, PresenceEvent } from '@switchyard/protocol';
import { MAX_JOIN_ACK_MEMBERS, PresenceRegistry } from '../src/index.js';
import { closeAll, connect, recordEvents, request, startGateway, type TestSocket, waitFor } from '@switchyard/testkit';

/*
 * Presence must not cost O(room size) per join: a single node answers from its presence registry
 * and never asks the adapter for the room's sockets (`fetchSockets` builds one RemoteSocket per
 * socket in the room). Counting the adapter's `fetchSockets` calls pins that without timing.
 */

afterEach(closeAll);

type JoinAck = Extract<Ack<JoinRoomResult>, { ok: true }>;

async function join(socket: TestSocket, room: string): Promise<JoinAck> {
  const ack = await request<Ack<JoinRoomResult>>(socket, 'room:join', { room });
  if (!ack.ok) throw new Error(`join refused: ${ack.error.code}`);
  return ack;
}

async function connectUsers(url: string, count: number, batch = 50): Promise<TestSocket[]> {
  const sockets: TestSocket[] = [];
  for (let start = 0; start < count; start += batch) {
    const size = Math.min(batch, count - start);
    const next = await Promise.all(
      Array.from({ length: size }, (_, i) =>
        connect(url, { transports: ['websocket'], auth: { name: `user ${start + i}`, userId: `user-${start + i}` } }),
      ),
    );
    sockets.push(...next);
  }
  return sockets;
}

describe('presence on a single node', () => {
  it('joins, leaves and disconnects without asking the adapter for the room sockets', async () => {
    const { gateway, url } = await startGateway();
    const fetchSockets = vi.spyOn(gateway.io.of('/').adapter, 'fetchSockets');
    const users = await connectUsers(url, 40);
    const [observer, ...others] = users as [TestSocket, ...TestSocket[]];
    await join(observer, 'lobby');
    const joins = recordEvents(observer, 'presence:join');
    const leaves = recordEvents(observer, 'presence:leave');

    let last: JoinAck | undefined;
    for (const socket of others) last = await join(socket, 'lobby');
    expect(last?.memberCount).toBe(40);
    expect(new Set(last?.members.map((member) => member.id))).toEqual(new Set(users.map((_, i) => `user-${i}`)));
    await waitFor('a presence:join per joiner', () => joins.length === others.length || undefined);

    // A second socket of a member is no new member, and its leave is not the member's.
    const twin = await connect(url, { transports: ['websocket'], auth: { name: 'user 1', userId: 'user-1' } });
    const twinAck = await join(twin, 'lobby');
    expect(twinAck.memberCount).toBe(40);
    await request(twin, 'room:leave', { room: 'lobby' });
    await request(others[0]!, 'room:leave', { room: 'lobby' });
    others[1]!.disconnect();
    await waitFor('presence:leave of user-1 and user-2', () => leaves.length >= 2 || undefined);
    expect(leaves.map((event: PresenceEvent) => event.member.id).sort()).toEqual(['user-1', 'user-2']);
    expect(joins.filter((event: PresenceEvent) => event.member.id === 'user-1')).toHaveLength(1);

    const rejoin = await join(others[2]!, 'lobby');
    expect(rejoin.memberCount).toBe(38);
    expect(fetchSockets).not.toHaveBeenCalled();
  });

  it('bounds the members in a join ack and says how many there are', async () => {
    const { gateway, url } = await startGateway();
    const fetchSockets = vi.spyOn(gateway.io.of('/').adapter, 'fetchSockets');
    const count = MAX_JOIN_ACK_MEMBERS + 5;
    const users = await connectUsers(url, count);
    await Promise.all(users.slice(0, -1).map((socket) => join(socket, 'crowd')));
    const ack = await join(users.at(-1)!, 'crowd');
    expect(ack.memberCount).toBe(count);
    expect(ack.members).toHaveLength(MAX_JOIN_ACK_MEMBERS);
    expect(new Set(ack.members.map((member) => member.id)).size).toBe(MAX_JOIN_ACK_MEMBERS);
    expect(fetchSockets).not.toHaveBeenCalled();
  });
});

describe('PresenceRegistry', () => {
  const alice = { id: 'a', name: 'alice' };
  const bob = { id: 'b', name: 'bob' };

  it('counts sockets per user and room, and forgets a room with its last socket', () => {
    const registry = new PresenceRegistry();
    expect(registry.enter('lobby', alice)).toBe(1);
    expect(registry.enter('lobby', alice)).toBe(2);
    expect(registry.enter('lobby', bob)).toBe(1);
    expect(registry.memberCount('lobby')).toBe(2);
    expect(registry.members('lobby', 1)).toEqual([alice]);
    expect(registry.exit('lobby', 'a')).toBe(1);
    expect(registry.exit('lobby', 'a')).toBe(0);
    expect(registry.members('lobby')).toEqual([bob]);
    expect(registry.exit('lobby', 'b')).toBe(0);
    expect(registry.roomCount).toBe(0);
    // An exit that was never entered is not counted below zero.
    expect(registry.exit('lobby', 'b')).toBe(0);
    expect(registry.socketsOf('lobby', 'b')).toBe(0);
  });
});
