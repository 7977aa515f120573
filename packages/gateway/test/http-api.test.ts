import { afterEach, describe, expect, it } from 'vitest';
import type { ChatMessage } from '@switchyard/protocol';
import {
  API_KEY,
  closeAll,
  connect,
  JWT_SECRET,
  metricValue,
  nextEvent,
  openStream,
  publish,
  recordEvents,
  request,
  roundTrip,
  startGateway,
  tokenFor,
} from '@switchyard/testkit';

afterEach(closeAll);

const OTHER_KEY = 'another-api-key-abcdefghijklmnop';
const env = { API_KEYS: `${API_KEY},${OTHER_KEY}` };

describe('POST /v1/rooms/:room/messages', () => {
  it('stores the message, answers 201 with it, and delivers it to socket and SSE clients', async () => {
    const { url } = await startGateway(env);
    const socket = await connect(url, { transports: ['websocket'], auth: { name: 'Ada' } });
    await request(socket, 'room:join', { room: 'news' });
    const stream = await openStream(`${url}/v1/rooms/news/events`);
    const onSocket = nextEvent(socket, 'message:new');

    const { status, body } = await publish(url, 'news', { text: 'breaking' });
    expect(status).toBe(201);
    expect(body).toMatchObject({ room: 'news', text: 'breaking', author: { name: 'service' } });
    expect((body.author as { id: string }).id).toMatch(/^key-[0-9a-f]{12}$/);
    expect(await onSocket).toEqual(body);
    expect(await stream.waitForEvents('message:new', 1)).toEqual([body]);
    // It is in the history like any other message.
    const history = await request<{ messages: ChatMessage[] }>(socket, 'history:fetch', { room: 'news' });
    expect(history.messages.map((m) => m.id)).toEqual([body.id]);
  });

  it('takes the key as Authorization: Bearer too, and lets a service choose the author', async () => {
    const { url } = await startGateway(env);
    const { status, body } = await publish(
      url,
      'news',
      { text: 'as bot', author: { id: 'bot-1', name: 'Newsbot' } },
      { authorization: `Bearer ${OTHER_KEY}` },
    );
    expect(status).toBe(201);
    expect(body.author).toEqual({ id: 'bot-1', name: 'Newsbot' });
  });

  it('accepts a JWT with the publish scope as its user, and refuses one without it', async () => {
    const { url } = await startGateway({ ...env, AUTH_MODE: 'jwt', JWT_SECRET });
    const publisher = await tokenFor('ada', { scope: 'read publish' });
    const { status, body } = await publish(url, 'news', { text: 'mine' }, { authorization: `Bearer ${publisher}` });
    expect(status).toBe(201);
    expect(body.author).toEqual({ id: 'ada', name: 'ada' });

    const reader = await tokenFor('bob', { scope: 'read' });
    expect(await publish(url, 'news', { text: 'x' }, { authorization: `Bearer ${reader}` })).toMatchObject({
      status: 403,
      body: { code: 'FORBIDDEN' },
    });
    expect(
      await publish(
        url,
        'news',
        { text: 'x', author: { id: 'bob', name: 'Bob' } },
        { authorization: `Bearer ${publisher}` },
      ),
    ).toMatchObject({
      status: 403,
      body: { code: 'FORBIDDEN' },
    });
    expect(await publish(url, 'private:bob', { text: 'x' }, { authorization: `Bearer ${publisher}` })).toMatchObject({
      status: 403,
    });
    const expired = await tokenFor('ada', { scope: 'publish' }, Math.floor(Date.now() / 1000) - 5);
    expect(await publish(url, 'news', { text: 'x' }, { authorization: `Bearer ${expired}` })).toMatchObject({
      status: 401,
      body: { code: 'AUTH_EXPIRED' },
    });
  });

  it('makes retries with the same Idempotency-Key safe: same 201 body, stored and broadcast once', async () => {
    const { url } = await startGateway(env);
    const socket = await connect(url, { transports: ['websocket'], auth: { name: 'Ada' } });
    await request(socket, 'room:join', { room: 'news' });
    const received = recordEvents(socket, 'message:new');
    const headers = { 'x-api-key': API_KEY, 'idempotency-key': 'order-42' };

    const first = await publish(url, 'news', { text: 'once' }, headers);
    const retry = await publish(url, 'news', { text: 'once' }, headers);
    expect(first.status).toBe(201);
    expect(retry.status).toBe(201);
    expect(retry.body).toEqual(first.body);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(first.headers.get('idempotent-replayed')).toBeNull();

    // The key is scoped to its publisher and room.
    const otherPublisher = await publish(
      url,
      'news',
      { text: 'once' },
      { 'x-api-key': OTHER_KEY, 'idempotency-key': 'order-42' },
    );
    const otherRoom = await publish(url, 'elsewhere', { text: 'once' }, headers);
    expect(new Set([first.body.id, otherPublisher.body.id, otherRoom.body.id]).size).toBe(3);

    await roundTrip(socket, 'news');
    expect(received.map((m) => m.id)).toEqual([first.body.id, otherPublisher.body.id]);
  });

  it('answers every refusal with a JSON { code, message }', async () => {
    const { url } = await startGateway({ ...env, MAX_MESSAGE_LENGTH: '10', MAX_HTTP_BUFFER_SIZE: '2048' });
    const cases: [string, Awaited<ReturnType<typeof publish>>, number, string][] = [
      ['no credentials', await publish(url, 'news', { text: 'x' }, {}), 401, 'AUTH_REQUIRED'],
      [
        'unknown key',
        await publish(url, 'news', { text: 'x' }, { 'x-api-key': 'not-a-key-0123456789' }),
        401,
        'AUTH_INVALID',
      ],
      [
        'unknown bearer key',
        await publish(url, 'news', { text: 'x' }, { authorization: 'Bearer not-a-key-0123456789' }),
        401,
        'AUTH_INVALID',
      ],
      ['missing text', await publish(url, 'news', {}), 400, 'INVALID_PAYLOAD'],
      ['unknown field', await publish(url, 'news', { text: 'x', pinned: true }), 400, 'INVALID_PAYLOAD'],
      ['bad JSON', await publish(url, 'news', '{"text":'), 400, 'INVALID_PAYLOAD'],
      ['bad room', await publish(url, '-bad', { text: 'x' }), 400, 'INVALID_ROOM'],
      ['text too long', await publish(url, 'news', { text: 'x'.repeat(11) }), 413, 'MESSAGE_TOO_LONG'],
      ['body too large', await publish(url, 'news', { text: 'x'.repeat(4096) }), 413, 'PAYLOAD_TOO_LARGE'],
    ];
    for (const [what, response, status, code] of cases) {
      expect({ what, status: response.status, code: response.body.code }).toEqual({ what, status, code });
      expect(typeof response.body.message).toBe('string');
    }
  });

  it('rate-limits per publisher with 429 RATE_LIMITED', async () => {
    const { url } = await startGateway({ ...env, PUBLISH_RATE_LIMIT_MAX: '2' });
    expect((await publish(url, 'news', { text: '1' })).status).toBe(201);
    expect((await publish(url, 'news', { text: '2' })).status).toBe(201);
    const limited = await publish(url, 'news', { text: '3' });
    expect(limited).toMatchObject({ status: 429, body: { code: 'RATE_LIMITED' } });
    expect(limited.headers.get('retry-after')).not.toBeNull();
    // Another key has its own budget.
    expect((await publish(url, 'news', { text: '4' }, { 'x-api-key': OTHER_KEY })).status).toBe(201);
    expect(await metricValue(url, 'switchyard_http_publish_total', '{result="RATE_LIMITED"}')).toBe(1);
    expect(await metricValue(url, 'switchyard_http_publish_total', '{result="created"}')).toBe(3);
  });

  it('needs credentials even in anonymous mode without API_KEYS', async () => {
    const { url } = await startGateway();
    expect(await publish(url, 'news', { text: 'x' }, {})).toMatchObject({
      status: 401,
      body: { code: 'AUTH_REQUIRED' },
    });
    expect(await publish(url, 'news', { text: 'x' }, { 'x-api-key': API_KEY })).toMatchObject({
      status: 401,
      body: { code: 'AUTH_INVALID' },
    });
  });
});

describe('GET /v1/openapi.json', () => {
  it('documents the /v1 routes with the protocol schemas', async () => {
    const { url } = await startGateway(env);
    const response = await fetch(`${url}/v1/openapi.json`);
    expect(response.status).toBe(200);
    const doc = (await response.json()) as {
      openapi: string;
      paths: Record<
        string,
        Record<
          string,
          { parameters?: { name: string; in: string }[]; requestBody?: unknown; responses: Record<string, unknown> }
        >
      >;
      components: { securitySchemes: Record<string, unknown> };
    };
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths).sort()).toEqual(['/v1/rooms/{room}/events', '/v1/rooms/{room}/messages']);

    const post = doc.paths['/v1/rooms/{room}/messages']?.post;
    expect(JSON.stringify(post?.requestBody)).toContain('"text"');
    expect(JSON.stringify(post?.requestBody)).toContain('"author"');
    expect(Object.keys(post?.responses ?? {})).toEqual(expect.arrayContaining(['201', '4XX']));
    expect(JSON.stringify(post?.responses['201'])).toContain('"sentAt"');
    expect(post?.parameters?.map((p) => `${p.in}:${p.name}`)).toEqual(
      expect.arrayContaining(['path:room', 'header:idempotency-key']),
    );

    const get = doc.paths['/v1/rooms/{room}/events']?.get;
    expect(get?.parameters?.map((p) => `${p.in}:${p.name}`)).toEqual(
      expect.arrayContaining(['path:room', 'query:lastEventId', 'query:token', 'query:typing', 'header:last-event-id']),
    );
    expect(JSON.stringify(get?.responses['200'])).toContain('text/event-stream');
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(['apiKey', 'bearer']);
  });
});
