import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { startTcpProxy, waitFor } from '@switchyard/testkit';

describe('waitFor', () => {
  it('returns the first truthy value, trying again after a check that throws', async () => {
    let calls = 0;
    const value = await waitFor('the third call', () => {
      calls += 1;
      if (calls === 1) throw new Error('not yet');
      return calls >= 3 ? { calls } : undefined;
    });
    expect(value).toEqual({ calls: 3 });
  });

  it('names what it waited for and keeps the last error when the deadline passes', async () => {
    const failure = waitFor(
      'something that never happens',
      () => {
        throw new Error('still broken');
      },
      { timeoutMs: 50, intervalMs: 10 },
    );
    await expect(failure).rejects.toThrow(/something that never happens.*still broken/);
  });
});

describe('the TCP proxy', () => {
  it('passes bytes both ways, and drops every connection on demand', async () => {
    const echo = createServer((socket) => socket.pipe(socket));
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    const port = (echo.address() as { port: number }).port;
    const proxy = await startTcpProxy(port);
    try {
      const { connect } = await import('node:net');
      const client = connect(Number(new URL(proxy.url).port), '127.0.0.1');
      const received: string[] = [];
      client.on('data', (chunk: Buffer) => received.push(chunk.toString()));
      const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
      client.on('error', () => undefined);
      client.write('ping');
      await waitFor('the echo', () => received.join('') === 'ping');
      expect(proxy.connectionCount()).toBe(1);
      proxy.dropAll();
      await closed;
      expect(proxy.connectionCount()).toBe(0);
    } finally {
      await proxy.close();
      await new Promise<void>((resolve) => echo.close(() => resolve()));
    }
  });
});
