import { afterEach, describe, expect, it } from 'vitest';
import type { ChatMessage, PresenceDiff, TypingEvent } from '@switchyard/protocol';
import {
  API_KEY,
  closeAll,
  connect,
  metricValue,
  openStream,
  publish,
  request,
  startGateway,
  waitFor,
} from '@switchyard/testkit';

afterEach(closeAll);

const env = {
  API_KEYS: API_KEY,
  PUBLISH_RATE_LIMIT_MAX: '100000',
  RATE_LIMIT_BURST: '10000',
  RATE_LIMIT_PER_SECOND: '10000',
  PRESENCE_INTERVAL_MS: '20',
};

const nobody: PresenceDiff = { room: 'lobby', joined: [], left: [], count: 0, full: true };

describe('GET /v1/rooms/:room/events', () => {
  it('answers text/event-stream with the headers proxies and EventSource need, and a retry hint', async () => {
    const { url } = await startGateway({ ...env, SSE_RETRY_MS: '1234' });
    const stream = await openStream(`${url}/v1/rooms/lobby/events`);
    expect(stream.response.status).toBe(200);
    expect(stream.response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(stream.response.headers.get('cache-control')).toBe('no-cache');
    expect(stream.response.headers.get('x-accel-buffering')).toBe('no');
    await waitFor('retry hint', () => stream.retries.length > 0);
    expect(stream.retries[0]).toBe(1234);
  });

  it('streams the room’s presence first, then message:new with the message id, presence, and typing only when asked', async () => {
    const { url } = await startGateway(env);
    const plain = await openStream(`${url}/v1/rooms/lobby/events`);
    const withTyping = await openStream(`${url}/v1/rooms/lobby/events?typing=true`);

    const ada = await connect(url, { transports: ['websocket'], auth: { name: 'Ada', userId: 'ada' } });
    await request(ada, 'room:join', { room: 'lobby' });
    const [empty, joined] = await plain.waitForEvents<PresenceDiff>('presence:diff', 2);
    expect(empty).toEqual(nobody);
    expect(joined).toEqual({ room: 'lobby', joined: [{ id: 'ada', name: 'Ada' }], left: [], count: 1 });

    const sent = await request<{ message: ChatMessage }>(ada, 'message:send', {
      room: 'lobby',
      text: 'hello',
      clientMessageId: 'm1',
    });
    const [received] = await plain.waitForEvents<ChatMessage>('message:new', 1);
    expect(received).toEqual(sent.message);
    expect(plain.events.find((e) => e.event === 'message:new')?.id).toBe(sent.message.id);
    // Presence events carry no id: a client resumes from messages only.
    expect(plain.events.find((e) => e.event === 'presence:diff')?.id).toBeUndefined();

    await request(ada, 'typing', { room: 'lobby' });
    const [typing] = await withTyping.waitForEvents<TypingEvent>('typing', 1);
    expect(typing).toEqual({ room: 'lobby', member: { id: 'ada', name: 'Ada' } });
    // Events of a stream are ordered: once the next message is there, a typing event would be too.
    await request(ada, 'message:send', { room: 'lobby', text: 'after typing', clientMessageId: 'm2' });
    await plain.waitForEvents('message:new', 2);
    expect(plain.dataOf('typing')).toEqual([]);

    await request(ada, 'room:leave', { room: 'lobby' });
    const left = (await plain.waitForEvents<PresenceDiff>('presence:diff', 3))[2];
    expect(left).toEqual({ room: 'lobby', joined: [], left: [{ id: 'ada', name: 'Ada' }], count: 0 });
    await withTyping.waitForEvents('presence:diff', 3);
    expect(withTyping.events.map((e) => e.event)).toEqual([
      'presence:diff',
      'presence:diff',
      'message:new',
      'typing',
      'message:new',
      'presence:diff',
    ]);
  });

  it('does not stream other rooms', async () => {
    const { url } = await startGateway(env);
    const lobby = await openStream(`${url}/v1/rooms/lobby/events`);
    await publish(url, 'other', { text: 'elsewhere' });
    await publish(url, 'lobby', { text: 'here' });
    const [message] = await lobby.waitForEvents<ChatMessage>('message:new', 1);
    expect(message?.text).toBe('here');
    expect(lobby.dataOf('message:new')).toHaveLength(1);
  });

  it('sends a comment heartbeat every SSE_HEARTBEAT_MS', async () => {
    const { url } = await startGateway({ ...env, SSE_HEARTBEAT_MS: '50' });
    const stream = await openStream(`${url}/v1/rooms/quiet/events`);
    await waitFor('two heartbeats', () => stream.comments.filter((c) => c === 'heartbeat').length >= 2);
    // Nothing but the room's presence when the stream opened.
    expect(stream.dataOf('presence:diff')).toEqual([{ ...nobody, room: 'quiet' }]);
    expect(stream.events).toHaveLength(1);
  });

  it('counts open streams and events sent in /metrics', async () => {
    const { url } = await startGateway(env);
    const stream = await openStream(`${url}/v1/rooms/lobby/events`);
    expect(await metricValue(url, 'switchyard_sse_streams')).toBe(1);
    await publish(url, 'lobby', { text: 'counted' });
    await stream.waitForEvents('message:new', 1);
    expect(await metricValue(url, 'switchyard_sse_events_sent_total', '{event="message:new"}')).toBe(1);
    stream.close();
    await waitFor('stream gone from the gauge', async () => (await metricValue(url, 'switchyard_sse_streams')) === 0);
  });

  it('refuses a malformed room name or Last-Event-ID with 400 and a JSON body', async () => {
    const { url } = await startGateway(env);
    let response = await fetch(`${url}/v1/rooms/${encodeURIComponent('-bad room')}/events`);
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ code: 'INVALID_ROOM' });
    response = await fetch(`${url}/v1/rooms/lobby/events`, { headers: { 'last-event-id': 'x'.repeat(65) } });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ code: 'INVALID_PAYLOAD' });
  });
});
