import { createServer } from 'node:net';
import { Manager } from 'socket.io-client';
import { afterEach, expect, it } from 'vitest';
import { useReconnectDelays } from '../src/internal/backoff-shim.js';
import { waitFor } from '@switchyard/testkit';

/*
 * The SDK decides how long socket.io-client waits before each reconnection attempt through one
 * internal (src/internal/backoff-shim.ts). This fails on a socket.io-client version whose Manager no
 * longer asks it: a Manager pointed at a port where nothing listens must ask for attempts 0, 1, 2…
 */

const managers: Manager[] = [];
afterEach(() => {
  for (const manager of managers.splice(0)) manager.engine?.close();
});

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return typeof address === 'object' && address !== null ? address.port : 0;
}

it("has socket.io-client's Manager ask the SDK for every reconnection delay", async () => {
  const manager = new Manager(`http://127.0.0.1:${await closedPort()}`, {
    autoConnect: false,
    reconnectionAttempts: 3,
    transports: ['polling'],
  });
  managers.push(manager);
  const asked: number[] = [];
  expect(useReconnectDelays(manager, (attempt) => (asked.push(attempt), 5))).toBe(true);
  let failed = false;
  manager.on('reconnect_failed', () => (failed = true));
  manager.open();
  await waitFor('the Manager to give up after its attempts', () => failed);
  // Attempts 0, 1 and 2 waited what the SDK said; the fourth is refused by reconnectionAttempts.
  expect(asked).toEqual([0, 1, 2]);
});
