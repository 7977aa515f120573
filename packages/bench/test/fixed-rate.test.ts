import { describe, expect, it } from 'vitest';
import { FixedRateSchedule } from '../src/harness/fixed-rate.js';

describe('FixedRateSchedule', () => {
  it('spaces intended send times evenly from the start, whatever the sender did', () => {
    const schedule = new FixedRateSchedule(1_000, 200);
    expect(schedule.intervalMs).toBe(5);
    expect([0, 1, 2, 10].map((index) => schedule.intendedTime(index))).toEqual([1_000, 1_005, 1_010, 1_050]);
  });

  it('counts every message due by a time, so a late sender catches up instead of shifting the schedule', () => {
    const schedule = new FixedRateSchedule(0, 100);
    expect(schedule.dueCount(-1)).toBe(0);
    expect(schedule.dueCount(0)).toBe(1);
    expect(schedule.dueCount(9.99)).toBe(1);
    expect(schedule.dueCount(10)).toBe(2);
    // A sender that stalled for a second owes 100 more messages, each with its own intended time.
    expect(schedule.dueCount(1_000)).toBe(101);
  });

  it('does not postpone a message due exactly now because of float error', () => {
    const schedule = new FixedRateSchedule(0, 3);
    expect(schedule.dueCount(schedule.intendedTime(3))).toBe(4);
  });

  it('tells how long to wait for the next message', () => {
    const schedule = new FixedRateSchedule(0, 10);
    expect(schedule.delayUntil(2, 150)).toBe(50);
    expect(schedule.delayUntil(1, 150)).toBe(0);
  });

  it('rejects rates that are not positive and finite', () => {
    for (const rate of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => new FixedRateSchedule(0, rate)).toThrow(RangeError);
    }
  });
});
