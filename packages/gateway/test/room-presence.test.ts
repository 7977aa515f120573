import { describe, expect, it } from 'vitest';
import type { Member, PresenceShare } from '@switchyard/protocol';
import { RoomPresence } from '../src/presence/room-presence.js';

/*
 * One room's presence as a node holds it: its own sockets and the shares of other nodes. Pure and
 * synchronous, so the bookkeeping a cluster relies on (a user on two nodes is one member, a node's
 * shares chain or are refused, a dead node takes its members with it) is pinned here exactly.
 */

const bounds = { largeAbove: 5, membersAtOrBelow: 4 };
const member = (id: string): Member => ({ id, name: id.toUpperCase() });
const share = (seq: number, prev: number, joined: string[], left: string[] = []): PresenceShare => ({
  room: 'r',
  seq,
  prev,
  joined: joined.map(member),
  left,
});

describe('RoomPresence', () => {
  it('counts a user held here and on other nodes once, and names their leave only when the last holder lets go', () => {
    const room = new RoomPresence('r', bounds, true);
    room.enter(member('a'));
    room.enter(member('a'));
    expect(room.applyShare('n2', share(1, 0, ['a', 'b']))).toBe('applied');
    expect(room.applyShare('n3', share(7, 0, ['b', 'c']))).toBe('applied');
    expect(room.count).toBe(3);
    expect(room.flush().event).toEqual({
      name: 'presence:diff',
      payload: { room: 'r', joined: [member('a'), member('b'), member('c')], left: [], count: 3 },
    });

    expect(room.exit('a')).toBe(1);
    expect(room.exit('a')).toBe(0);
    expect(room.applyShare('n3', share(8, 7, [], ['b']))).toBe('applied');
    // a is still on n2, b still on n2: nobody left.
    expect(room.count).toBe(3);
    expect(room.flush().event).toBeUndefined();

    expect(room.dropNode('n2')).toBe(true);
    expect(room.count).toBe(1);
    expect(room.flush().event).toEqual({
      name: 'presence:diff',
      payload: { room: 'r', joined: [], left: [member('a'), member('b')], count: 1 },
    });
  });

  it('applies a node’s shares only in sequence: stale ones are dropped, a break is reported', () => {
    const room = new RoomPresence('r', bounds, true);
    room.enter(member('me'));
    expect(room.applyShare('n2', share(3, 0, ['a']))).toBe('applied');
    expect(room.applyShare('n2', share(3, 0, ['x']))).toBe('stale');
    expect(room.applyShare('n2', share(9, 5, ['y']))).toBe('gap');
    expect(room.has('y')).toBe(false);
    // A snapshot repairs it; an older snapshot than what was applied is ignored.
    room.replaceShare('n2', 9, [member('a'), member('y')]);
    room.replaceShare('n2', 4, []);
    expect([...room.members()].map((m) => m.id).sort()).toEqual(['a', 'me', 'y']);
    expect(room.applyShare('n2', share(10, 9, [], ['a']))).toBe('applied');
    // `prev` 0: the node starts its share of the room afresh (it had forgotten the room).
    expect(room.applyShare('n2', share(12, 0, ['z']))).toBe('applied');
    expect([...room.members()].map((m) => m.id).sort()).toEqual(['me', 'z']);
  });

  it('shares what moved on this node since the last share, chained by seq', () => {
    const room = new RoomPresence('r', bounds, true);
    room.enter(member('a'));
    room.enter(member('b'));
    const first = room.flush().share;
    expect(first).toEqual({ room: 'r', prev: 0, joined: [member('a'), member('b')], left: [] });
    room.shared(41);
    room.exit('a');
    room.enter(member('c'));
    room.exit('c');
    expect(room.flush().share).toEqual({ room: 'r', prev: 41, joined: [], left: ['a', 'c'] });
    expect(room.flush().share).toBeUndefined();
    expect(new RoomPresence('solo', bounds, false).flush().share).toBeUndefined();
  });

  it('goes large at once above the threshold and back at 90 % of it, with the whole list', () => {
    const room = new RoomPresence('r', bounds, false);
    for (const id of ['a', 'b', 'c', 'd', 'e']) room.enter(member(id));
    expect(room.mode).toBe('members');
    room.flush();
    room.enter(member('f'));
    expect(room.mode).toBe('large');
    expect(room.flush(1).event).toEqual({ name: 'presence:count', payload: { room: 'r', count: 6 } });
    room.exit('f');
    // Counts of a room of 5 with a threshold of 5 go out every interval; of 6, every 2.
    expect(room.flush(2).event).toEqual({ name: 'presence:count', payload: { room: 'r', count: 5 } });
    room.enter(member('f'));
    expect(room.flush(3)).toEqual({ pending: true });
    expect(room.flush(4).event).toEqual({ name: 'presence:count', payload: { room: 'r', count: 6 } });
    room.exit('f');
    expect(room.mode).toBe('large');
    room.exit('e');
    const back = room.flush(5).event;
    expect(room.mode).toBe('members');
    expect(back).toEqual({
      name: 'presence:diff',
      payload: { room: 'r', joined: ['a', 'b', 'c', 'd'].map(member), left: [], count: 4, full: true },
    });
  });

  it('pages by id after a cursor', () => {
    const room = new RoomPresence('r', { largeAbove: 100, membersAtOrBelow: 90 }, true);
    for (const id of ['c', 'a']) room.enter(member(id));
    room.applyShare('n2', share(1, 0, ['b', 'a', 'd']));
    expect(room.page(undefined, 2)).toEqual({ members: [member('a'), member('b')], more: true });
    expect(room.page('b', 2)).toEqual({ members: [member('c'), member('d')], more: false });
    expect(room.page('d', 2)).toEqual({ members: [], more: false });
  });
});
