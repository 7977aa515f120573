import { afterEach, describe, expect, it } from 'vitest';
import type { ChatMessage, PresenceCount } from '@switchyard/protocol';
import {
  API_KEY,
  closeAll,
  connect,
  metricValue,
  openStream,
  publish,
  request,
  roundTrip,
  startGateway,
  type TestSocket,
  waitFor,
} from '@switchyard/testkit';

/*
 * Viewers of a large room over SSE: they get the count (never per-member events), every message
 * once and in the order the room's sockets get them, and they cost the room no presence work: a
 * stream is not a member, and opening or closing streams sends no presence event to anyone.
 */

afterEach(closeAll);

const env = {
  LARGE_ROOM_THRESHOLD: '5',
  PRESENCE_INTERVAL_MS: '60000',
  API_KEYS: API_KEY,
  PUBLISH_RATE_LIMIT_MAX: '100000',
  RATE_LIMIT_BURST: '10000',
  RATE_LIMIT_PER_SECOND: '10000',
};

describe('SSE viewers of a large room', () => {
  it('receive the count and every message in order, and cost no presence event', async () => {
    const { gateway, url } = await startGateway(env);
    const members: TestSocket[] = [];
    for (let i = 0; i < 12; i += 1) {
      const socket = await connect(url, { transports: ['websocket'], auth: { name: `M${i}`, userId: `m${i}` } });
      await request(socket, 'room:join', { room: 'stage' });
      members.push(socket);
    }
    gateway.presence.flush();
    const watcher = members[0]!;
    const onSocket: string[] = [];
    watcher.on('message:new', (message) => onSocket.push(message.id));

    const sentBefore = await metricValue(url, 'switchyard_events_out_total', '{event="presence:count"}');
    const viewers = await Promise.all(Array.from({ length: 30 }, () => openStream(`${url}/v1/rooms/stage/events`)));
    for (const viewer of viewers)
      expect(await viewer.waitForEvents<PresenceCount>('presence:count', 1)).toEqual([{ room: 'stage', count: 12 }]);
    viewers.at(-1)!.close();
    gateway.presence.flush();
    await roundTrip(watcher, 'stage');
    // Thirty streams came (and one went): no member joined, so nobody was told anything.
    expect(await metricValue(url, 'switchyard_events_out_total', '{event="presence:count"}')).toBe(sentBefore);
    expect(gateway.presence.view('stage')).toMatchObject({ mode: 'large', count: 12 });

    // Messages from several members and the HTTP API at once.
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < 40; i += 1) {
      const from = members[i % members.length]!;
      sends.push(request(from, 'message:send', { room: 'stage', text: `s${i}`, clientMessageId: `s${i}` }));
      sends.push(publish(url, 'stage', { text: `h${i}` }));
    }
    await Promise.all(sends);
    await waitFor('every message on the socket', () => onSocket.length === 80);
    const open = viewers.slice(0, -1);
    for (const viewer of open) {
      const streamed = await viewer.waitForEvents<ChatMessage>('message:new', 80);
      expect(streamed.map((message) => message.id)).toEqual(onSocket);
    }

    // Members leaving move the count for viewers too (12 members, 5 a threshold: every ⌈12 / 5⌉ = 3 intervals).
    for (const socket of members.slice(6)) socket.disconnect();
    await waitFor('six left', () => gateway.presence.view('stage').count === 6);
    for (let interval = 0; interval < 3; interval += 1) gateway.presence.flush();
    for (const viewer of open) {
      const counts = await viewer.waitForEvents<PresenceCount>('presence:count', 2);
      expect(counts.at(-1)).toEqual({ room: 'stage', count: 6 });
      expect(viewer.dataOf('presence:diff')).toEqual([]);
    }
  });
});
