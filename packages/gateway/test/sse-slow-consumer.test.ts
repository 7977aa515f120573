import { connect as netConnect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type ChatMessage, createSseParser } from '@switchyard/protocol';
import { type HistoryAfter, MemoryMessageStore, type MessageStore } from '../src/index.js';
import {
  API_KEY,
  closeAll,
  connect,
  DEADLINE_MS,
  metricValue,
  openStream,
  publish,
  request,
  startGateway,
  waitFor,
} from '@switchyard/testkit';
import type { ParsedSseEvent } from '@switchyard/protocol';

const sockets = new Set<Socket>();
afterEach(async () => {
  for (const socket of sockets) socket.destroy();
  sockets.clear();
  await closeAll();
});

const BUFFER_BYTES = 64 * 1024;
const TEXT = 'x'.repeat(3000);
/** Our queue (at most the limit plus the frame that crossed it) and Node's write buffers (high-water mark plus one chunk each). */
const FRAME_BYTES = TEXT.length + 300;
const BOUND_PER_STREAM = BUFFER_BYTES + FRAME_BYTES + 2 * (16 * 1024 + FRAME_BYTES);

/** An SSE request on a raw TCP socket that stops reading as soon as the response head arrived. */
async function stalledSubscriber(url: string, room: string): Promise<{ socket: Socket; readAll(): Promise<Buffer> }> {
  const { hostname, port } = new URL(url);
  const socket = netConnect({ host: hostname, port: Number(port) });
  sockets.add(socket);
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.once('connect', () =>
      socket.write(`GET /v1/rooms/${room}/events HTTP/1.1\r\nHost: ${hostname}\r\nAccept: text/event-stream\r\n\r\n`),
    );
    socket.once('data', (chunk: Buffer) => {
      chunks.push(chunk);
      socket.pause();
      resolve();
    });
  });
  expect(Buffer.concat(chunks).toString('latin1')).toMatch(/^HTTP\/1\.1 200/);
  return {
    socket,
    readAll: () =>
      new Promise<Buffer>((resolve) => {
        const done = (): void => resolve(Buffer.concat(chunks));
        socket.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          // The last chunk of a chunked response; the connection itself may stay open (keep-alive).
          if (Buffer.concat(chunks.slice(-2)).toString('latin1').endsWith('\r\n0\r\n\r\n')) done();
        });
        socket.once('close', done);
        socket.resume();
      }),
  };
}

/** The SSE events of a raw HTTP/1.1 chunked response. */
function eventsOf(raw: Buffer): ParsedSseEvent[] {
  const parts: Buffer[] = [];
  // Undo chunked transfer encoding: hex size line, data, CRLF; a zero size ends it.
  for (let at = raw.indexOf('\r\n\r\n') + 4; at < raw.length;) {
    const lineEnd = raw.indexOf('\r\n', at);
    const size = Number.parseInt(raw.subarray(at, lineEnd).toString('latin1'), 16);
    if (!(size > 0)) break;
    parts.push(raw.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
  const events: ParsedSseEvent[] = [];
  createSseParser({ onEvent: (e) => events.push(e) })(Buffer.concat(parts).toString('utf8'));
  return events;
}

describe('SSE slow consumers', () => {
  it('closes a client that stops reading with a final SLOW_CONSUMER error, keeping its buffer bounded and others unharmed', async () => {
    const { url } = await startGateway({
      SSE_BUFFER_BYTES: String(BUFFER_BYTES),
      RATE_LIMIT_BURST: '100000',
      RATE_LIMIT_PER_SECOND: '100000',
      HISTORY_PER_ROOM: '100000',
    });
    const healthy = await openStream(`${url}/v1/rooms/flood/events`);
    const stalled = await stalledSubscriber(url, 'flood');
    const sender = await connect(url, { transports: ['websocket'], auth: { name: 'Flood', userId: 'flood' } });
    await request(sender, 'room:join', { room: 'flood' });

    const sent: ChatMessage[] = [];
    let peakBuffered = 0;
    const deadline = Date.now() + 3 * DEADLINE_MS;
    while ((await metricValue(url, 'switchyard_sse_slow_consumer_closes_total')) === 0) {
      if (Date.now() > deadline) throw new Error(`no slow-consumer close after ${sent.length} messages`);
      // Batches smaller than the buffer: a client that reads keeps up.
      const batch = Array.from({ length: 16 }, (_, i) =>
        request<{ message: ChatMessage }>(sender, 'message:send', {
          room: 'flood',
          text: TEXT,
          clientMessageId: `f${sent.length + i}`,
        }),
      );
      for (const ack of await Promise.all(batch)) sent.push(ack.message);
      peakBuffered = Math.max(peakBuffered, await metricValue(url, 'switchyard_sse_buffered_bytes'));
    }
    // Two streams, each within its bound, whatever the stalled one did.
    expect(peakBuffered).toBeLessThanOrEqual(2 * BOUND_PER_STREAM);
    await waitFor(
      'the stalled stream to leave the hub',
      async () => (await metricValue(url, 'switchyard_sse_streams')) === 1,
    );

    // The healthy stream got everything, in order.
    const lastId = sent.at(-1)?.id;
    await waitFor(
      'every message on the healthy stream',
      () => healthy.dataOf<ChatMessage>('message:new').some((m) => m.id === lastId),
      { timeoutMs: 3 * DEADLINE_MS },
    );
    expect(healthy.dataOf<ChatMessage>('message:new').map((m) => m.id)).toEqual(sent.map((m) => m.id));

    // The stalled client, reading at last, finds a prefix of the messages and then the error naming the last id it got.
    const events = eventsOf(await stalled.readAll());
    const error = events.at(-1);
    expect(error?.event).toBe('error');
    const messages = events.filter((e) => e.event === 'message:new');
    expect(messages.map((e) => e.id)).toEqual(sent.slice(0, messages.length).map((m) => m.id));
    expect(messages.length).toBeLessThan(sent.length);
    expect(JSON.parse(error?.data ?? '{}')).toMatchObject({ code: 'SLOW_CONSUMER', lastEventId: messages.at(-1)?.id });
  });

  it('closes a stream whose replay falls too far behind the live events, naming the id it resumed from', async () => {
    const inner = new MemoryMessageStore({ historyPerRoom: 1000 });
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    let replayWaiting = false;
    const store: MessageStore = {
      append: (input) => inner.append(input),
      latest: (room, limit) => inner.latest(room, limit),
      before: (room, beforeId, limit) => inner.before(room, beforeId, limit),
      async after(room, afterId, limit): Promise<HistoryAfter> {
        replayWaiting = true;
        await gate;
        return inner.after(room, afterId, limit);
      },
    };
    const { url } = await startGateway(
      { API_KEYS: API_KEY, SSE_BUFFER_EVENTS: '5', PUBLISH_RATE_LIMIT_MAX: '1000' },
      { store },
    );
    const first = (await publish(url, 'slow', { text: 'first' })).body;
    const stream = await openStream(`${url}/v1/rooms/slow/events`, { 'last-event-id': String(first.id) });
    await waitFor('the replay to start', () => replayWaiting);
    for (let i = 0; i < 6; i += 1) await publish(url, 'slow', { text: `live ${i}` });
    const [error] = await stream.waitForEvents<{ code: string; lastEventId?: string }>('error', 1);
    expect(error).toMatchObject({ code: 'SLOW_CONSUMER', lastEventId: first.id });
    await stream.ended;
    expect(stream.dataOf('message:new')).toEqual([]);
    release();
    expect(await metricValue(url, 'switchyard_sse_slow_consumer_closes_total')).toBe(1);
  });
});
