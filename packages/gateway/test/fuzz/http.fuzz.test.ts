import { request as httpRequest } from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_KEY, closeAll, JWT_SECRET, type StartedGateway, startGateway, tokenFor } from '@switchyard/testkit';
import { FUZZ_TIMEOUT_MS, heapAfterGc, isErrorBody, roomName } from './support.js';

/*
 * Every HTTP body and header the API reads — the publish route's path, body, content type,
 * X-API-Key, Authorization, Idempotency-Key; the SSE route's path, query (lastEventId, token,
 * typing) and Last-Event-ID — gets a documented status: a success, or `{ code, message }` with a code
 * of the protocol's table. Raw requests (node:http) so nothing is normalized on the way.
 */

let gateway: StartedGateway;
let validToken = '';
beforeAll(async () => {
  gateway = await startGateway({
    AUTH_MODE: 'jwt',
    JWT_SECRET,
    API_KEYS: API_KEY,
    PUBLISH_RATE_LIMIT_MAX: '1000000',
    AUTH_FAILURE_LIMIT: '100000',
  });
  validToken = await tokenFor('fuzzer', { scope: 'publish' });
});
afterAll(closeAll);

interface Answer {
  status: number;
  type: string;
  body: string;
}

/** One raw request; for a 200 event stream, the head only (the stream is then dropped). */
function send(method: string, path: string, headers: Record<string, string>, body?: Buffer): Promise<Answer> {
  const { hostname, port } = new URL(gateway.url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ hostname, port, path, method, headers }, (res) => {
      const type = String(res.headers['content-type'] ?? '');
      if (res.statusCode === 200 && type.startsWith('text/event-stream')) {
        resolve({ status: 200, type, body: '' });
        req.destroy();
        return;
      }
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function expectTyped(answer: Answer, allowed: number[]): void {
  expect(allowed, `${answer.status} ${answer.body}`).toContain(answer.status);
  if (answer.status >= 400) {
    expect(answer.type).toMatch(/^application\/json/);
    expect(isErrorBody(JSON.parse(answer.body)), answer.body).toBe(true);
  }
}

/** Header values HTTP can carry (visible ASCII and spaces); Node refuses others before sending. */
const headerValue = fc.oneof(
  fc.stringMatching(/^[\x21-\x7e][\x20-\x7e]{0,80}$/),
  fc.constantFrom('', 'Bearer', 'Bearer ', 'bearer x', `Bearer ${'a'.repeat(9000)}`, 'Basic Zm9vOmJhcg=='),
);

const credentials = fc.oneof(
  fc.constant<Record<string, string>>({}),
  fc.constant({ 'x-api-key': API_KEY }),
  headerValue.map((value) => ({ 'x-api-key': value })),
  headerValue.map((value) => ({ authorization: value })),
  fc.constant('valid-token').map(() => ({ authorization: `Bearer ${validToken}` })),
);

const jsonBody = fc.oneof(
  fc
    .record(
      {
        text: fc.oneof(fc.string({ maxLength: 40 }), fc.jsonValue({ maxDepth: 1 })),
        author: fc.oneof(
          fc.record({ id: fc.string({ maxLength: 140 }), name: fc.string({ unit: 'binary', maxLength: 45 }) }),
          fc.jsonValue({ maxDepth: 2 }),
        ),
        extra: fc.jsonValue({ maxDepth: 1 }),
      },
      { requiredKeys: [] },
    )
    .map((value) => JSON.stringify(value)),
  fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value)),
  fc.string({ unit: 'binary', maxLength: 100 }),
  fc.constantFrom(
    '',
    '{',
    '{"text":',
    'null',
    '[]',
    '{"text":"x","__proto__":{"polluted":1}}',
    `{"text":"${'x'.repeat(200_000)}"}`,
  ),
);

const contentType = fc.oneof(
  fc.constantFrom(
    'application/json',
    'application/json; charset=utf-8',
    'text/plain',
    'application/x-www-form-urlencoded',
  ),
  headerValue,
);

const encodedRoom = fc.oneof(
  roomName.map((room) => encodeURIComponent(room)),
  fc.constantFrom('%E0%A4%A', '%', '%00', '..%2F..', 'a%2Fb', '%C0%AF'),
);

describe('HTTP publish', () => {
  it(
    'answers every path, body and header with a documented status and a typed error',
    { timeout: FUZZ_TIMEOUT_MS },
    async () => {
      await fc.assert(
        fc.asyncProperty(
          encodedRoom,
          jsonBody,
          contentType,
          credentials,
          fc.option(headerValue, { nil: undefined }),
          async (room, body, type, auth, idempotencyKey) => {
            const headers: Record<string, string> = { 'content-type': type, ...auth };
            if (idempotencyKey !== undefined) headers['idempotency-key'] = idempotencyKey;
            const answer = await send('POST', `/v1/rooms/${room}/messages`, headers, Buffer.from(body));
            expectTyped(answer, [201, 400, 401, 403, 404, 413, 415, 429, 431]);
          },
        ),
      );
    },
  );
});

describe('SSE', () => {
  const query = fc
    .record(
      {
        lastEventId: fc.string({ maxLength: 80 }),
        token: fc.oneof(fc.string({ maxLength: 50 }), fc.constant('valid-token')),
        typing: fc.constantFrom('true', 'false', '1', 'yes', ''),
        other: fc.string({ maxLength: 10 }),
      },
      { requiredKeys: [] },
    )
    .map((fields) => {
      const params = new URLSearchParams();
      for (const [name, value] of Object.entries(fields))
        params.set(name, name === 'token' && value === 'valid-token' ? validToken : value);
      return params.toString();
    });

  it('answers every path, query and header with a stream or a typed error', { timeout: FUZZ_TIMEOUT_MS }, async () => {
    await fc.assert(
      fc.asyncProperty(
        encodedRoom,
        query,
        credentials,
        fc.option(headerValue, { nil: undefined }),
        async (room, search, auth, lastEventId) => {
          const headers: Record<string, string> = { accept: 'text/event-stream', ...auth };
          if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
          const answer = await send('GET', `/v1/rooms/${room}/events${search ? `?${search}` : ''}`, headers);
          expectTyped(answer, [200, 400, 401, 403, 404, 409, 429, 431]);
        },
      ),
    );
  });
});

describe('memory under fuzzed HTTP', () => {
  it('stays flat', { timeout: FUZZ_TIMEOUT_MS * 3 }, async () => {
    const batch = () =>
      fc.assert(
        fc.asyncProperty(encodedRoom, jsonBody, credentials, async (room, body, auth) => {
          const answer = await send(
            'POST',
            `/v1/rooms/${room}/messages`,
            { 'content-type': 'application/json', ...auth },
            Buffer.from(body),
          );
          expectTyped(answer, [201, 400, 401, 403, 404, 413, 415, 429, 431]);
        }),
      );
    await batch();
    const before = heapAfterGc();
    await batch();
    await batch();
    expect(heapAfterGc() - before).toBeLessThan(16 * 1024 * 1024);
  });
});
