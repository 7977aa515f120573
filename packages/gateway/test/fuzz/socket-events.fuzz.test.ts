import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_EVENTS, type ErrorBody } from '@switchyard/protocol';
import {
  closeAll,
  connect,
  request,
  send,
  type StartedGateway,
  startGateway,
  type TestSocket,
  TRANSPORTS,
} from '@switchyard/testkit';
import { FUZZ_RUNS, FUZZ_TIMEOUT_MS, heapAfterGc, isAck, isErrorBody, payload } from './support.js';

/*
 * Every inbound socket event, with and without an ack, gets a typed answer (an ack `{ ok: true }` or
 * `{ ok: false, error: { code, message } }`; without an ack at most a `gateway:error` of the same
 * shape), the connection stays usable, and the server's memory stays flat.
 */

let gateway: StartedGateway;
beforeAll(async () => {
  gateway = await startGateway({ RATE_LIMIT_BURST: '100000', RATE_LIMIT_PER_SECOND: '100000' });
});
afterAll(closeAll);

/** socket.io-client refuses to emit these (raw packets carrying them are the Engine.IO suite's). */
const RESERVED = new Set(['connect', 'connect_error', 'disconnect', 'disconnecting', 'newListener', 'removeListener']);

const eventName = fc
  .oneof(
    fc.constantFrom(...CLIENT_EVENTS),
    fc.constantFrom(...CLIENT_EVENTS),
    fc.string({ maxLength: 100 }),
    fc.constantFrom('message', '__proto__', 'toString', 'hasOwnProperty', 'server:shutdown', 'gateway:error'),
  )
  .filter((name) => !RESERVED.has(name));

/** Extra arguments after the payload: socket.io passes them on; the gateway must ignore them. */
const extraArgs = fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 2 });

describe.each(TRANSPORTS)('socket events over %s', (transport) => {
  let socket: TestSocket;
  const refusals: ErrorBody[] = [];
  beforeAll(async () => {
    socket = await connect(gateway.url, { transports: [transport], auth: { name: 'fuzzer', userId: 'fuzzer' } });
    socket.on('gateway:error', (error) => refusals.push(error));
  });

  it(
    'answer every event with an ack with a typed ack, and keep the connection',
    { timeout: FUZZ_TIMEOUT_MS },
    async () => {
      await fc.assert(
        fc.asyncProperty(eventName, payload, extraArgs, async (event, value, extra) => {
          const ack = await request(socket, event, value, ...extra);
          expect(isAck(ack), JSON.stringify(ack)).toBe(true);
          expect(socket.connected).toBe(true);
        }),
      );
    },
  );

  it(
    'answer an event without an ack with nothing or a typed gateway:error, and keep the connection',
    { timeout: FUZZ_TIMEOUT_MS },
    async () => {
      await fc.assert(
        fc.asyncProperty(eventName, payload, async (event, value) => {
          refusals.length = 0;
          send(socket, event, value);
          // Packets are ordered: the refusal, if any, arrives before this round trip's ack.
          expect(isAck(await request(socket, 'history:fetch', { room: 'fuzz' }))).toBe(true);
          for (const refusal of refusals) expect(isErrorBody(refusal), JSON.stringify(refusal)).toBe(true);
          expect(refusals.length).toBeLessThanOrEqual(1);
          expect(socket.connected).toBe(true);
        }),
      );
    },
  );
});

describe('memory under fuzzed events', () => {
  it(
    'stays flat: a second batch as large as the first grows the heap by no more than a few MB',
    { timeout: FUZZ_TIMEOUT_MS * 3 },
    async () => {
      const socket = await connect(gateway.url, { transports: ['websocket'], auth: { name: 'heap', userId: 'heap' } });
      const batch = () =>
        fc.assert(
          fc.asyncProperty(eventName, payload, async (event, value) => {
            expect(isAck(await request(socket, event, value))).toBe(true);
          }),
          { numRuns: Math.max(200, FUZZ_RUNS) },
        );
      await batch();
      const before = heapAfterGc();
      await batch();
      await batch();
      const after = heapAfterGc();
      expect(after - before).toBeLessThan(8 * 1024 * 1024);
    },
  );
});
