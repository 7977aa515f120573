import { createServer } from 'node:http';
import { Server } from 'socket.io';
import { Adapter } from 'socket.io-adapter';
import { afterEach, describe, expect, it } from 'vitest';
import { ObservedInMemoryAdapter, ObservedSessionAwareAdapter } from '../src/adapters/in-memory.js';
import type { DeliveredPacket, DeliveryTarget, LocalDeliveryHook } from '../src/adapters/local-delivery.js';
import { closeAll, startGateway } from '@switchyard/testkit';

/*
 * The "delivered locally" hook of the in-memory adapters (the MongoDB and node:cluster ones are
 * exercised across nodes and workers by sse-cluster.test.ts and e2e/workers.test.ts).
 */

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((io) => io.close()));
  await closeAll();
});

function serverWith(adapter: typeof Adapter, recovery = false): Server {
  const io = new Server(createServer(), {
    adapter,
    ...(recovery ? { connectionStateRecovery: { maxDisconnectionDuration: 1000 } } : {}),
  });
  servers.push(io);
  return io;
}

describe.each([
  ['the in-memory adapter', ObservedInMemoryAdapter, false],
  ['the session-aware adapter (connection state recovery)', ObservedSessionAwareAdapter, true],
] as const)('%s', (_name, adapter, recovery) => {
  it('reports every broadcast once, room and exceptions included, whether or not a socket is in the room', () => {
    const io = serverWith(adapter, recovery);
    const seen: [DeliveredPacket, DeliveryTarget][] = [];
    const stop = (io.of('/').adapter as unknown as LocalDeliveryHook).onLocalDelivery((packet, opts) =>
      seen.push([packet, opts]),
    );
    io.to('room:a').except('x').emit('hello', { n: 1 });
    io.local.emit('local', 2);
    stop();
    io.emit('unseen');
    expect(seen.map(([packet]) => packet.data?.slice(0, 2))).toEqual([
      ['hello', { n: 1 }],
      ['local', 2],
    ]);
    expect([...(seen[0]?.[1].rooms ?? [])]).toEqual(['room:a']);
    expect([...(seen[0]?.[1].except ?? [])]).toEqual(['x']);
  });
});

describe('the gateway', () => {
  it('refuses to start on an adapter without the hook: SSE streams could not see broadcasts', async () => {
    await expect(startGateway({}, { adapter: Adapter })).rejects.toThrow(/onLocalDelivery/);
  });
});
