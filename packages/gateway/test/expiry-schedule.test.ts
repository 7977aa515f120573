import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { ExpirySchedule } from '../src/auth/expiry-schedule.js';

describe('ExpirySchedule', () => {
  it('runs each item once at its time, earliest first, and not the ones deleted', async () => {
    const ran: string[] = [];
    const schedule = new ExpirySchedule<string>((item) => ran.push(item));
    const now = Date.now();
    schedule.add('late', now + 120);
    schedule.add('early', now + 40); // earlier than the armed time: re-armed for it
    schedule.add('early-too', now + 40);
    schedule.add('gone', now + 40);
    schedule.delete('gone', now + 40);
    expect(schedule.size).toBe(3);

    await sleep(80);
    expect(ran).toEqual(['early', 'early-too']);
    await sleep(100);
    expect(ran).toEqual(['early', 'early-too', 'late']);
    expect(schedule.size).toBe(0);
  });

  it('runs an item already due on the next turn, and nothing after stop', async () => {
    const ran: string[] = [];
    const schedule = new ExpirySchedule<string>((item) => ran.push(item));
    schedule.add('past', Date.now() - 1_000);
    schedule.add('stopped', Date.now() + 30);
    await sleep(10);
    expect(ran).toEqual(['past']);
    schedule.stop();
    await sleep(60);
    expect(ran).toEqual(['past']);
  });
});
