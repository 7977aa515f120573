import { afterEach, expect, it } from 'vitest';
import { createClient, type SwitchyardClient } from '../src/index.js';
import { closeAll, engineOpen, enginePollUntil, enginePost, startGateway, waitFor } from '@switchyard/testkit';

/*
 * A gateway over its handshake budget answers 503 OVERLOADED with Retry-After. Over long-polling the
 * SDK reads it and waits at least that long (plus jitter) before its next attempt, then connects.
 */

const clients: SwitchyardClient[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await closeAll();
});

it('waits the Retry-After of a busy gateway before trying again, then connects', async () => {
  const { url } = await startGateway({ HANDSHAKE_MAX_CONCURRENT: '1', HANDSHAKE_RETRY_AFTER_S: '1' });
  // A handshake that has not connected yet holds the only slot.
  const holder = await engineOpen(url);
  const client = createClient(url, {
    name: 'patient',
    transports: ['polling'],
    socketOptions: { reconnectionDelay: 20, reconnectionDelayMax: 40 },
  });
  clients.push(client);
  const refusals: number[] = [];
  const attempts: number[] = [];
  client.socket.io.on('error', () => refusals.push(performance.now()));
  client.socket.io.on('reconnect_attempt', () => attempts.push(performance.now()));
  await waitFor('the first refusal', () => refusals.length > 0);
  // The holder connects: the slot is free for the next attempt.
  await enginePost(url, holder, ['40']);
  await enginePollUntil(url, holder, (packet) => packet.startsWith('40'));
  await client.ready(15_000);
  // Without Retry-After the next attempt would come within 20 ms; a timer never fires early, so this
  // lower bound cannot fail on a slow machine.
  expect(attempts[0]! - refusals[0]!).toBeGreaterThanOrEqual(995);
  expect(client.state).toBe('connected');
});
