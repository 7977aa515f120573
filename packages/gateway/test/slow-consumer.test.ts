import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import type { DisconnectNotice } from '@switchyard/protocol';
import {
  API_KEY,
  closeAll,
  connect,
  metricValue,
  publish,
  rawSocket,
  request,
  startGateway,
  waitFor,
} from '@switchyard/testkit';

/*
 * A socket that stops reading must not grow the gateway's memory nor hold up anyone else: past
 * SOCKET_BUFFER_BYTES / SOCKET_BUFFER_PACKETS of backlog it is closed with SLOW_CONSUMER. The slow
 * client here is a raw WebSocket that stops reading its TCP socket, so the gateway's writes back up
 * for real (first in the kernel, then in Engine.IO); the gateway runs in this process, so its heap is
 * this process's.
 */

afterEach(closeAll);

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

const BOUND_BYTES = 256 * 1024;
const env = {
  API_KEYS: API_KEY,
  PUBLISH_RATE_LIMIT_MAX: '1000000',
  SOCKET_BUFFER_BYTES: String(BOUND_BYTES),
  SOCKET_BUFFER_PACKETS: '100000',
  RATE_LIMIT_BURST: '100000',
  RATE_LIMIT_PER_SECOND: '100000',
  HISTORY_PER_ROOM: '20',
};
const TEXT = 'x'.repeat(4000);

/** Publishes over HTTP without an idempotency key: the gateway then keeps nothing of it beyond the room's short history. */
async function post(url: string, index: number): Promise<string> {
  const { status, body } = await publish(url, 'feed', { text: `${index} ${TEXT}`.slice(0, 4000) });
  if (status !== 201) throw new Error(`publish refused: ${status} ${JSON.stringify(body)}`);
  return body.id as string;
}

describe('a socket that stops reading', () => {
  it('is closed with SLOW_CONSUMER within its bound while a reading member keeps receiving, and memory stays bounded', async () => {
    const { url } = await startGateway(env);
    const slow = await rawSocket(
      url,
      { name: 'Slow', userId: 'slow' },
      { keep: (event) => event === 'server:disconnect' },
    );
    expect(await slow.request('room:join', { room: 'feed' })).toMatchObject({ ok: true });
    const reader = await connect(url, { transports: ['websocket'], auth: { name: 'Reader', userId: 'reader' } });
    await request(reader, 'room:join', { room: 'feed' });
    // Ids only: the test itself must not hold megabytes of messages while the gateway's heap is checked.
    const received: string[] = [];
    reader.on('message:new', (message) => received.push(message.id));
    // Warm up (compiled code, connection pools) so the heap compared later is the traffic's alone.
    const sent: string[] = [];
    while (sent.length < 500) {
      sent.push(...(await Promise.all(Array.from({ length: 25 }, (_, i) => post(url, sent.length + i)))));
    }
    const heapBefore = heapAfterGc();

    slow.pause();
    let peakQueued = 0;
    // Enough to fill the kernel's buffers for the slow socket, then its bound; stop once it is closed.
    for (let batch = 0; batch < 200; batch += 1) {
      const next = await Promise.all(Array.from({ length: 25 }, (_, i) => post(url, sent.length + i)));
      sent.push(...next);
      peakQueued = Math.max(peakQueued, await metricValue(url, 'switchyard_socket_queued_bytes'));
      if ((await metricValue(url, 'switchyard_slow_consumer_closes_total', '{transport="websocket"}')) === 1) break;
    }
    expect(await metricValue(url, 'switchyard_slow_consumer_closes_total', '{transport="websocket"}')).toBe(1);
    // What waited in the gateway for the slow socket never went past its bound (plus the packet that crossed it).
    expect(peakQueued).toBeLessThanOrEqual(BOUND_BYTES + 8 * 1024);

    // The reader got everything, in order, while the slow socket was backing up.
    await waitFor('the reader to have every message', () => received.length === sent.length);
    expect(received).toEqual(sent);

    // Once it reads again, the slow client finds why it was closed behind what it had, then the close.
    slow.resume();
    await slow.closed;
    const notices = slow.events.filter((event) => event.event === 'server:disconnect');
    expect(notices.map((event) => (event.payload as DisconnectNotice).code)).toEqual(['SLOW_CONSUMER']);
    expect(slow.events.at(-1)?.event).toBe('server:disconnect');

    // More traffic after the close costs the slow socket nothing. Had its backlog been kept, every
    // message since it stopped reading would still be in memory: the growth stays far below that.
    while (sent.length < 3000) {
      sent.push(...(await Promise.all(Array.from({ length: 25 }, (_, i) => post(url, sent.length + i)))));
    }
    await waitFor('the reader to have the rest', () => received.length === sent.length);
    const traffic = sent.length * TEXT.length;
    expect(heapAfterGc() - heapBefore).toBeLessThan(traffic / 2);
    expect(await metricValue(url, 'switchyard_socket_queued_bytes')).toBe(0);
  });

  it('is cut off after the grace period when it never reads again', async () => {
    const { gateway, url } = await startGateway(env);
    const slow = await rawSocket(url, { name: 'Slow', userId: 'slow' });
    await slow.request('room:join', { room: 'feed' });
    slow.pause();
    for (let batch = 0; batch < 200; batch += 1) {
      await Promise.all(Array.from({ length: 25 }, (_, i) => post(url, batch * 25 + i)));
      if ((await metricValue(url, 'switchyard_slow_consumer_closes_total', '{transport="websocket"}')) === 1) break;
    }
    // Gone from Socket.IO (its room, its count) without ever reading.
    await waitFor('the slow socket to be gone', () => gateway.io.of('/').sockets.size === 0, { timeoutMs: 15_000 });
    expect(gateway.presence.view('feed').count).toBe(0);
  });
});
