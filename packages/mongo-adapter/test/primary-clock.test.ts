import { describe, expect, it } from 'vitest';
import { PrimaryClock } from '../src/primary-clock.js';

/** The clock silences are measured on: wall-clock time minus the time MongoDB had no primary. */
describe('PrimaryClock', () => {
  it('counts wall-clock time while there is a primary', () => {
    const clock = new PrimaryClock();
    expect(clock.between(1_000, 11_000)).toBe(10_000);
    expect(clock.now(5_000)).toBe(5_000);
  });

  it('does not count an election, before, during or after it', () => {
    const clock = new PrimaryClock();
    clock.pause(10_000);
    // During: frozen at the moment the primary went away.
    expect(clock.now(10_000)).toBe(10_000);
    expect(clock.now(15_000)).toBe(10_000);
    expect(clock.between(8_000, 21_000)).toBe(2_000);
    clock.resume(22_000);
    // A node last heard 3 s before a 12 s election has been silent 3 s + what follows it.
    expect(clock.between(7_000, 22_000)).toBe(3_000);
    expect(clock.between(7_000, 27_000)).toBe(8_000);
    // Spans entirely before or after it are untouched.
    expect(clock.between(1_000, 9_000)).toBe(8_000);
    expect(clock.between(23_000, 25_000)).toBe(2_000);
  });

  it('never goes backwards, and adds elections up', () => {
    const clock = new PrimaryClock();
    const readings: number[] = [];
    const at = (wall: number) => readings.push(clock.now(wall));
    at(0);
    clock.pause(1_000);
    at(1_500);
    clock.resume(3_000);
    at(3_500);
    clock.pause(4_000);
    clock.pause(4_500); // already paused: the first pause stands
    clock.resume(6_000);
    at(7_000);
    expect(readings).toEqual([0, 1_000, 1_500, 3_000]);
    expect([...readings].sort((a, b) => a - b)).toEqual(readings);
    expect(clock.paused).toBe(false);
    clock.resume(8_000); // not paused: nothing happens
    expect(clock.between(0, 8_000)).toBe(4_000);
  });

  it('forgets old elections but keeps their total', () => {
    const clock = new PrimaryClock();
    const hour = 3_600_000;
    for (let i = 0; i < 300; i++) {
      clock.pause(i * 10_000);
      clock.resume(i * 10_000 + 1_000);
    }
    clock.pause(hour);
    clock.resume(hour + 5_000);
    expect(clock.between(hour - 1_000, hour + 6_000)).toBe(2_000);
    expect(clock.now(hour + 6_000)).toBe(hour + 6_000 - 300 * 1_000 - 5_000);
  });
});
