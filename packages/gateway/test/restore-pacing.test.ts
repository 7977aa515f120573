import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { loadConfig } from '../src/config.js';
import { RestorePacer } from '../src/cluster/restore-pacing.js';
import {
  clientTo,
  closeAll,
  connectedSocket,
  metricValue,
  MongoStandIn,
  nextEvent,
  request,
  startMongoGateways,
  startTcpProxy,
  waitFor,
} from '@switchyard/testkit';

/*
 * Session restores are paced against MongoDB: at most RESTORE_MAX_CONCURRENT at once, started at
 * most RESTORE_RATE_PER_SECOND per second, a bounded number waiting, and every one still restored.
 */

function pacer(env: Record<string, string>): RestorePacer {
  return new RestorePacer(loadConfig(env).admission, new Registry());
}

describe('the restore pacer', () => {
  it('runs at most RESTORE_MAX_CONCURRENT restores at once, and skips one when too many wait', async () => {
    const restores = pacer({
      RESTORE_MAX_CONCURRENT: '2',
      RESTORE_RATE_PER_SECOND: '1000',
      HANDSHAKE_MAX_CONCURRENT: '3',
    });
    let running = 0;
    let most = 0;
    const finishers: Array<() => void> = [];
    const restore = (value: string) => () =>
      new Promise<string>((resolve) => {
        running += 1;
        most = Math.max(most, running);
        finishers.push(() => {
          running -= 1;
          resolve(value);
        });
      });
    const results = ['a', 'b', 'c', 'd', 'e'].map((value) => restores.run(restore(value), 'not restored'));
    // Two run, three wait (the bound), the sixth is not restored at all.
    await expect(restores.run(restore('f'), 'not restored')).resolves.toBe('not restored');
    while (finishers.length > 0 || running > 0) {
      finishers.shift()?.();
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await expect(Promise.all(results)).resolves.toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(most).toBe(2);
    expect(restores.peak).toBe(2);
  });

  it('spreads starts evenly at RESTORE_RATE_PER_SECOND', async () => {
    const restores = pacer({ RESTORE_MAX_CONCURRENT: '100', RESTORE_RATE_PER_SECOND: '20' });
    const starts: number[] = [];
    await Promise.all(
      Array.from({ length: 6 }, () => restores.run(async () => void starts.push(performance.now()), undefined)),
    );
    // 20 per second, one per 50 ms: six starts span at least five intervals. Only a lower bound (a slow
    // machine only spreads them more), with a few ms for the millisecond clock the queue counts with.
    expect(starts.at(-1)! - starts[0]!).toBeGreaterThanOrEqual(5 * 50 - 10);
    for (let i = 1; i < starts.length; i += 1) expect(starts[i]! - starts[i - 1]!).toBeGreaterThan(40);
  });
});

describe('paced restores in MongoDB mode', () => {
  let mongo: MongoStandIn;
  beforeAll(async () => {
    mongo = await MongoStandIn.start();
  });
  afterAll(async () => {
    await mongo?.stop();
  });
  afterEach(closeAll);

  it('restores every session of clients that moved to another node, one at a time', async () => {
    const [a, b] = await startMongoGateways(mongo, 'paced-restores', ['pa', 'pb'], {
      RESTORE_MAX_CONCURRENT: '1',
      RESTORE_RATE_PER_SECOND: '20',
    });
    const proxy = await startTcpProxy(a!.port);
    try {
      const sockets = await Promise.all(
        Array.from({ length: 8 }, async (_, index) => {
          const socket = await connectedSocket(
            clientTo(proxy.url, { transports: ['websocket'], auth: { name: `c${index}` } }),
          );
          await request(socket, 'room:join', { room: 'paced' });
          return socket;
        }),
      );
      // Every client has seen a packet (its offset is what a restore resumes from).
      const heard = sockets.map((socket) => nextEvent(socket, 'message:new'));
      await request(sockets[0]!, 'message:send', { room: 'paced', text: 'before', clientMessageId: 'm1' });
      await Promise.all(heard);
      // Every connection drops; they come back through the same address, which now leads to B.
      proxy.retarget(b!.port);
      proxy.dropAll();
      await waitFor('every client back', () => sockets.every((socket) => socket.connected && socket.recovered), {
        timeoutMs: 15_000,
      });
      expect(await metricValue(b!.url, 'switchyard_restores_in_flight_peak')).toBe(1);
      expect(await metricValue(b!.url, 'switchyard_adapter_restores_total', '{ok="true",reason="restored"}')).toBe(8);
    } finally {
      await proxy.close();
    }
  });
});
