import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SwitchyardClient, TypingEvent } from '../src/index.js';
import { ClientPool, type StartedGateway, startGateway, waitFor } from '@switchyard/testkit';

/*
 * The typing throttle sends at most one `typing` per interval, but keeps sending while the user keeps
 * typing: a keystroke inside the interval is announced when the interval ends.
 */

let gateway: StartedGateway;
beforeAll(async () => {
  gateway = await startGateway({ RATE_LIMIT_BURST: '200', RATE_LIMIT_PER_SECOND: '200' });
});
afterAll(() => gateway.close());

const INTERVAL_MS = 150;
let rooms = 0;
const freshRoom = () => `typing-${process.pid}-${++rooms}`;
const pool = new ClientPool(['websocket']);
afterEach(() => pool.closeAll());

function countTypingSent(client: SwitchyardClient): { count: number } {
  const sent = { count: 0 };
  client.socket.onAnyOutgoing((event: string) => void (event === 'typing' && sent.count++));
  return sent;
}

describe('typing', () => {
  it('announces keystrokes that came after the first one of an interval when it ends', async () => {
    const client = pool.client(gateway.url, { name: 'alice', typingIntervalMs: INTERVAL_MS });
    const room = await client.join(freshRoom());
    const sent = countTypingSent(client);

    room.typing();
    room.typing();
    room.typing();
    expect(sent.count).toBe(1);
    await waitFor('the interval to end with one more typing', () => sent.count === 2);
    // No keystroke since: nothing more, however long we wait.
    await sleep(INTERVAL_MS * 3);
    expect(sent.count).toBe(2);
  });

  it('someone typing steadily is seen typing in every interval', async () => {
    const name = freshRoom();
    const alice = await pool.client(gateway.url, { name: 'alice', typingIntervalMs: INTERVAL_MS }).join(name);
    const bob = await pool.client(gateway.url, { name: 'bob' }).join(name);
    const seen: TypingEvent[] = [];
    bob.on('typing', (event) => seen.push(event));

    // A keystroke every INTERVAL_MS / 3 for six intervals.
    for (let stroke = 0; stroke < 18; stroke += 1) {
      alice.typing();
      await sleep(INTERVAL_MS / 3);
    }
    await waitFor('bob to see alice typing all along', () => seen.length >= 5);
  });

  it('stops announcing once the message is sent', async () => {
    const client = pool.client(gateway.url, { name: 'alice', typingIntervalMs: INTERVAL_MS });
    const room = await client.join(freshRoom());
    const sent = countTypingSent(client);
    room.typing();
    room.typing();
    await room.send('done typing');
    await sleep(INTERVAL_MS * 3);
    expect(sent.count).toBe(1);
  });
});
