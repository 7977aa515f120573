import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeAll, connect, openRawWebSocket, request, type StartedGateway, startGateway } from '@switchyard/testkit';
import { FUZZ_RUNS, FUZZ_TIMEOUT_MS, heapAfterGc, isAck } from './support.js';

/*
 * Engine.IO and Socket.IO packets of any content over long-polling and WebSocket, sent raw (a
 * client library would refuse most of them): each gets engine.io's typed answer or closes that one
 * session as the protocol says, the server stays up, other clients keep working, and memory is flat.
 */

let gateway: StartedGateway;
beforeAll(async () => {
  gateway = await startGateway({
    RATE_LIMIT_BURST: '100000',
    RATE_LIMIT_PER_SECOND: '100000',
    MAX_HTTP_BUFFER_SIZE: '4096',
    // Every property run opens an Engine.IO session and most never finish the Socket.IO connect:
    // those count as handshakes in progress until their ping times out. Admission is not under test.
    HANDSHAKE_MAX_CONCURRENT: '100000',
  });
});
afterAll(closeAll);

const SOCKET_IO_EVENTS = ['room:join', 'message:send', 'typing', 'history:fetch', 'room:leave', 'bogus'];

/** Engine.IO packets: well-formed ones with Socket.IO payloads of any shape, near misses, and noise. */
const enginePacket = fc.oneof(
  fc.constantFrom('1', '2', '3', '5', '6', '40', '41', '4', '40/', '40/admin,', '42', '43', '44', '45', '46', '2probe'),
  fc
    .tuple(
      fc.constantFrom('42', '43', '421', '4299999999999', '42/admin,', '451-', '461-'),
      fc.constantFrom(...SOCKET_IO_EVENTS),
      fc.jsonValue({ maxDepth: 3 }),
    )
    .map(([prefix, event, value]) => `${prefix}${JSON.stringify([event, value])}`),
  fc
    .tuple(fc.constantFrom('40', '42', '451-'), fc.jsonValue({ maxDepth: 3 }))
    .map(([prefix, value]) => `${prefix}${JSON.stringify(value)}`),
  fc.string({ unit: 'binary', maxLength: 120 }),
  fc.constantFrom('', '\u001e', '4\u001e4', '42["x"\u001e42', 'b' + 'A'.repeat(50), `4${'x'.repeat(5000)}`),
);

/** Several packets in one polling body, joined by Engine.IO's record separator. */
const pollingBody = fc.array(enginePacket, { minLength: 1, maxLength: 4 }).map((packets) => packets.join('\u001e'));

async function pollingSession(): Promise<string> {
  const open = await (await fetch(`${gateway.url}/socket.io/?EIO=4&transport=polling`)).text();
  return (JSON.parse(open.slice(1)) as { sid: string }).sid;
}

async function stillServing(): Promise<void> {
  expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200);
}

describe('raw Engine.IO over long-polling', () => {
  it('answers every POST 200, 400 or 413 and keeps serving', { timeout: FUZZ_TIMEOUT_MS }, async () => {
    await fc.assert(
      fc.asyncProperty(pollingBody, fc.boolean(), async (body, connectFirst) => {
        const session = `${gateway.url}/socket.io/?EIO=4&transport=polling&sid=${await pollingSession()}`;
        if (connectFirst) expect((await fetch(session, { method: 'POST', body: '40' })).status).toBe(200);
        const answer = await fetch(session, { method: 'POST', body });
        expect([200, 400, 413], `${answer.status} for ${JSON.stringify(body).slice(0, 200)}`).toContain(answer.status);
        const text = await answer.text();
        if (answer.status === 200) expect(text).toBe('ok');
        else expect(JSON.parse(text)).toMatchObject({ message: expect.any(String) });
        await stillServing();
      }),
    );
  });
});

describe('raw Engine.IO over WebSocket', () => {
  it('takes every frame, text or binary, without taking the server down', { timeout: FUZZ_TIMEOUT_MS }, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            enginePacket.map((text) => ({ text })),
            fc.uint8Array({ maxLength: 64 }).map((bytes) => ({ bytes })),
          ),
          {
            minLength: 1,
            maxLength: 4,
          },
        ),
        fc.boolean(),
        async (frames, connectFirst) => {
          const socket = await openRawWebSocket(gateway.url, '/socket.io/?EIO=4&transport=websocket');
          try {
            await socket.nextFrame((payload) => payload.startsWith('0{'));
            if (connectFirst) {
              socket.sendText('40');
              await socket.nextFrame((payload) => payload.startsWith('40'));
            }
            for (const frame of frames) {
              if ('text' in frame) socket.sendText(frame.text);
              else socket.sendBinary(frame.bytes);
            }
            // A known request after the noise: answered unless the noise closed the session.
            socket.sendText('4299["history:fetch",{"room":"fuzz"}]');
            await Promise.race([
              socket.nextFrame((payload) => payload.startsWith('4399')),
              socket.ended,
              socket.closedByServer,
            ]);
          } finally {
            socket.destroy();
          }
          await stillServing();
        },
      ),
    );
  });
});

describe('after the raw packets', () => {
  it(
    'a well-behaved client still connects and gets answers, and memory is flat',
    { timeout: FUZZ_TIMEOUT_MS * 2 },
    async () => {
      const before = heapAfterGc();
      await fc.assert(
        fc.asyncProperty(pollingBody, async (body) => {
          const session = `${gateway.url}/socket.io/?EIO=4&transport=polling&sid=${await pollingSession()}`;
          await (await fetch(session, { method: 'POST', body })).text();
        }),
        { numRuns: Math.max(200, FUZZ_RUNS) },
      );
      // Sessions closed by bad packets are gone; those that were not time out with their ping.
      const client = await connect(gateway.url, { transports: ['websocket'], auth: { name: 'after' } });
      expect(isAck(await request(client, 'room:join', { room: 'fuzz' }))).toBe(true);
      expect(heapAfterGc() - before).toBeLessThan(24 * 1024 * 1024);
    },
  );
});
