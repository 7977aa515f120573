import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMarkerSplitter, markedText, sequenceIn } from '../src/load/sequence-marker.js';
import { subscribeSse, type SseSubscription } from '../src/load/sse-subscriber.js';

/** The load generator's SSE subscriber against a real HTTP server speaking text/event-stream. */
describe('subscribeSse', () => {
  let server: Server;
  let url: string;
  const seenAuth: (string | undefined)[] = [];
  const subscriptions: SseSubscription[] = [];

  beforeEach(async () => {
    server = createServer((request, response) => {
      if (!request.url?.startsWith('/v1/rooms/lobby/events')) {
        response.writeHead(404, { 'content-type': 'application/json' }).end('{"code":"NOT_FOUND"}');
        return;
      }
      seenAuth.push(request.headers.authorization);
      response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      for (const sequence of [5, 6])
        response.write(`id: ${sequence}\nevent: message:new\ndata: {"text":"${markedText(sequence, 20)}"}\n\n`);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterEach(async () => {
    for (const subscription of subscriptions.splice(0)) subscription.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    seenAuth.length = 0;
  });

  it('streams the room events with the bearer token', async () => {
    const sequences: number[] = [];
    const onChunk = createMarkerSplitter((frame) => sequences.push(sequenceIn(frame)));
    subscriptions.push(await subscribeSse({ url, room: 'lobby', token: 'abc', onChunk }));
    await expect.poll(() => sequences).toEqual([5, 6]);
    expect(seenAuth).toEqual(['Bearer abc']);
  });

  it('rejects with the status and body when the route answers otherwise', async () => {
    await expect(subscribeSse({ url, room: 'elsewhere' })).rejects.toThrow(
      /404 application\/json: \{"code":"NOT_FOUND"\}/,
    );
  });
});
