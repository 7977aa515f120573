import { describe, expect, it } from 'vitest';
import type { Member } from '@switchyard/protocol';
import { MemoryMessageStore } from '../src/index.js';

const ada: Member = { id: 'u-ada', name: 'Ada' };
const bob: Member = { id: 'u-bob', name: 'Bob' };

async function fill(store: MemoryMessageStore, room: string, count: number, prefix = 'm') {
  const messages = [];
  for (let i = 1; i <= count; i += 1)
    messages.push((await store.append({ room, text: `${prefix}${i}`, author: ada })).message);
  return messages;
}

describe('MemoryMessageStore', () => {
  it('gives ids that order a room by plain string comparison, and ISO timestamps', async () => {
    const store = new MemoryMessageStore({ historyPerRoom: 100 });
    const messages = await fill(store, 'lobby', 12);
    const ids = messages.map((m) => m.id);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(12);
    for (const m of messages) expect(new Date(m.sentAt).toISOString()).toBe(m.sentAt);
  });

  it('returns the latest messages oldest first, and pages backwards with hasMore', async () => {
    const store = new MemoryMessageStore({ historyPerRoom: 100 });
    const m = await fill(store, 'lobby', 5);
    expect(await store.latest('lobby', 2)).toEqual(m.slice(3));
    expect(await store.before('lobby', undefined, 2)).toEqual({ messages: m.slice(3), hasMore: true });
    expect(await store.before('lobby', m[3]!.id, 2)).toEqual({ messages: m.slice(1, 3), hasMore: true });
    expect(await store.before('lobby', m[1]!.id, 2)).toEqual({ messages: m.slice(0, 1), hasMore: false });
    expect(await store.before('empty', undefined, 2)).toEqual({ messages: [], hasMore: false });
  });

  it('returns messages after an id, oldest first, without a gap while the history still holds them', async () => {
    const store = new MemoryMessageStore({ historyPerRoom: 100 });
    const m = await fill(store, 'lobby', 5);
    expect(await store.after('lobby', m[1]!.id, 2)).toEqual({ messages: m.slice(2, 4), gap: false });
    expect(await store.after('lobby', m[4]!.id, 10)).toEqual({ messages: [], gap: false });
  });

  it('keeps at most historyPerRoom messages per room and reports a gap for ids older than what it holds', async () => {
    const store = new MemoryMessageStore({ historyPerRoom: 3 });
    const m = await fill(store, 'lobby', 6);
    expect(await store.latest('lobby', 50)).toEqual(m.slice(3));
    expect(await store.before('lobby', undefined, 50)).toEqual({ messages: m.slice(3), hasMore: false });
    // m[2] was the newest evicted: resuming from it misses nothing.
    expect(await store.after('lobby', m[2]!.id, 10)).toEqual({ messages: m.slice(3), gap: false });
    expect(await store.after('lobby', m[1]!.id, 10)).toEqual({ messages: m.slice(3), gap: true });
  });

  it('stores an (author, clientMessageId) pair once and returns the stored message for retries', async () => {
    const store = new MemoryMessageStore({ historyPerRoom: 10 });
    const first = await store.append({ room: 'lobby', text: 'hi', author: ada, clientMessageId: 'c1' });
    const retry = await store.append({ room: 'lobby', text: 'hi', author: ada, clientMessageId: 'c1' });
    const other = await store.append({ room: 'lobby', text: 'hi', author: bob, clientMessageId: 'c1' });
    expect(first.created).toBe(true);
    expect(retry).toEqual({ message: first.message, created: false });
    expect(other.created).toBe(true);
    expect(first.message.clientMessageId).toBe('c1');
    expect(await store.latest('lobby', 10)).toHaveLength(2);
  });

  it('forgets the oldest idempotency keys beyond maxIdempotencyKeys', async () => {
    const store = new MemoryMessageStore({ historyPerRoom: 10, maxIdempotencyKeys: 2 });
    for (const id of ['a', 'b', 'c']) await store.append({ room: 'r', text: id, author: ada, clientMessageId: id });
    expect((await store.append({ room: 'r', text: 'c', author: ada, clientMessageId: 'c' })).created).toBe(false);
    expect((await store.append({ room: 'r', text: 'a', author: ada, clientMessageId: 'a' })).created).toBe(true);
  });

  it('evicts the least recently written room beyond maxRooms, and a gap shows for resumes into it', async () => {
    const store = new MemoryMessageStore({ historyPerRoom: 10, maxRooms: 2 });
    const [old] = await fill(store, 'old', 1);
    await fill(store, 'kept', 1);
    await fill(store, 'new', 1);
    expect(await store.latest('old', 10)).toEqual([]);
    expect(await store.latest('kept', 10)).toHaveLength(1);
    const [again] = await fill(store, 'old', 1, 'again');
    expect(again!.id > old!.id).toBe(true);
    expect((await store.after('old', '', 10)).gap).toBe(true);
  });

  it('rejects nonsensical bounds', () => {
    expect(() => new MemoryMessageStore({ historyPerRoom: 0 })).toThrow(RangeError);
  });
});
