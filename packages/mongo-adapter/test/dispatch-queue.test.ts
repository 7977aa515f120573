import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { DispatchQueue } from '../src/dispatch.js';

/** A burst read from the change stream is applied within a per-turn budget of socket writes. */
describe('DispatchQueue', () => {
  it('applies what the budget allows at once and the rest in later turns, in order', async () => {
    const applied: number[] = [];
    const queue = new DispatchQueue(100, 10_000, (error) => {
      throw error;
    });
    // 10 events of 30 socket writes each: 4 fit the first turn (the 4th crosses the budget).
    for (let i = 0; i < 10; i++) queue.push({ late: false, apply: () => (applied.push(i), 30) });
    queue.drain();
    expect(applied).toEqual([0, 1, 2, 3]);
    queue.push({ late: false, apply: () => (applied.push(10), 1) });
    queue.drain(); // a turn is booked: nothing overtakes it
    expect(applied).toEqual([0, 1, 2, 3]);
    await nextTurn();
    expect(applied).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    await nextTurn();
    expect(applied).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('counts late events until applied, and makes the reader wait when too much is queued', async () => {
    const queue = new DispatchQueue(1, 2, () => undefined);
    queue.push({ late: true, apply: () => 1 });
    queue.push({ late: false, apply: () => 1 });
    expect(queue.late).toBe(1);
    let room = false;
    void queue.room()?.then(() => (room = true));
    queue.drain();
    expect(queue.late).toBe(0);
    await nextTurn();
    expect(room).toBe(true);
    expect(queue.size).toBe(0);
  });

  it('keeps going when one event throws', () => {
    const errors: unknown[] = [];
    const applied: number[] = [];
    const queue = new DispatchQueue(100, 100, (error) => errors.push(error));
    queue.push({ late: false, apply: () => (applied.push(1), 1) });
    queue.push({
      late: false,
      apply: () => {
        throw new Error('broken listener');
      },
    });
    queue.push({ late: false, apply: () => (applied.push(3), 1) });
    queue.drain();
    expect(applied).toEqual([1, 3]);
    expect(errors).toHaveLength(1);
  });
});
