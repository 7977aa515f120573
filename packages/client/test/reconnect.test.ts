import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ChatMessage, PresenceChange, Room, SwitchyardClient } from '../src/index.js';
import {
  ClientPool,
  type StartedGateway,
  startGateway,
  startTcpProxy,
  type TcpProxy,
  waitFor,
} from '@switchyard/testkit';

let gateway: StartedGateway;
beforeAll(async () => {
  gateway = await startGateway({ RATE_LIMIT_BURST: '1000', RATE_LIMIT_PER_SECOND: '1000' });
});
afterAll(() => gateway.close());

let roomCounter = 0;
const freshRoom = () => `reconnect-${++roomCounter}`;

function collect(room: Room): ChatMessage[] {
  const messages: ChatMessage[] = [];
  room.on('message', (message) => messages.push(message));
  return messages;
}

describe.each(['polling', 'websocket'] as const)('reconnecting over %s', (transport) => {
  const pool = new ClientPool([transport]);
  let proxy: TcpProxy;
  beforeAll(async () => {
    proxy = await startTcpProxy(gateway.port);
  });
  afterEach(() => {
    pool.closeAll();
    proxy.setOffline(false);
    proxy.release();
  });
  afterAll(() => proxy.close());

  /** Alice talks to the gateway through the proxy (so her connection can be cut), Bob directly. */
  async function aliceAndBob(name: string) {
    const aliceClient = pool.client(proxy.url, { name: 'alice' });
    const alice = await aliceClient.join(name);
    const bob = await pool.client(gateway.url, { name: 'bob' }).join(name);
    return { aliceClient, alice, bob };
  }

  async function cutOff(client: SwitchyardClient): Promise<void> {
    proxy.setOffline(true);
    await waitFor('the client to notice', () => client.state === 'reconnecting');
  }

  it('rejoins its rooms and delivers the messages it missed once, in order', async () => {
    const name = freshRoom();
    const { aliceClient, alice, bob } = await aliceAndBob(name);
    const received = collect(alice);
    await bob.send('before');
    await waitFor('the first message', () => received.length === 1);

    await cutOff(aliceClient);
    for (const text of ['missed 1', 'missed 2', 'missed 3']) await bob.send(text);
    proxy.setOffline(false);
    await aliceClient.ready();
    await bob.send('after');

    await waitFor('the live message after the reconnect', () => received.some((message) => message.text === 'after'));
    expect(received.map((message) => message.text)).toEqual(['before', 'missed 1', 'missed 2', 'missed 3', 'after']);
    // The gateway takes Alice back: she can send again.
    await expect(alice.send('back')).resolves.toMatchObject({ text: 'back' });
  });

  it('pages back through history when it missed more than the join returns', async () => {
    const name = freshRoom();
    const { aliceClient, alice, bob } = await aliceAndBob(name);
    const received = collect(alice);
    await bob.send('m0');
    await waitFor('the first message', () => received.length === 1);
    let historyRequests = 0;
    aliceClient.socket.onAnyOutgoing((event: string) => void (event === 'history:fetch' && historyRequests++));

    await cutOff(aliceClient);
    for (let i = 1; i <= 130; i++) await bob.send(`m${i}`);
    proxy.setOffline(false);

    await waitFor('all missed messages', () => received.length === 131, { timeoutMs: 15_000 });
    expect(received.map((message) => message.text)).toEqual(Array.from({ length: 131 }, (_, i) => `m${i}`));
    expect(historyRequests).toBeGreaterThan(0);
  });

  it('refreshes the member list after a reconnect and reports who came and went', async () => {
    const name = freshRoom();
    const { aliceClient, alice, bob } = await aliceAndBob(name);
    await waitFor('alice to see bob', () => alice.members.length === 2);
    const changes: PresenceChange[] = [];
    alice.on('presence', (change) => changes.push(change));

    await cutOff(aliceClient);
    await bob.leave();
    await pool.client(gateway.url, { name: 'carol' }).join(name);
    proxy.setOffline(false);
    await aliceClient.ready();

    expect(alice.members.map((member) => member.name).sort()).toEqual(['alice', 'carol']);
    expect(changes.map((change) => `${change.type} ${change.member.name}`).sort()).toEqual(['join carol', 'leave bob']);
  });

  it('retries a send whose ack was lost with the same clientMessageId, so it is stored once', async () => {
    const name = freshRoom();
    const { aliceClient, alice, bob } = await aliceAndBob(name);
    const seenByAlice = collect(alice);
    const seenByBob = collect(bob);
    const attempts: string[] = [];
    aliceClient.socket.onAnyOutgoing((event: string, payload: { clientMessageId?: string }) => {
      if (event === 'message:send' && payload.clientMessageId !== undefined) attempts.push(payload.clientMessageId);
    });

    proxy.holdDownstream(); // the gateway stores the message; its ack is held back
    const sending = alice.send('exactly once');
    await waitFor('the gateway to store and broadcast it', () => seenByBob.length === 1);
    await cutOff(aliceClient); // the held ack is lost with the connection
    proxy.release();
    proxy.setOffline(false);

    const stored = await sending;
    expect(stored.id).toBe(seenByBob[0]?.id);
    expect(attempts.length).toBeGreaterThanOrEqual(2);
    expect(new Set(attempts).size).toBe(1);
    await bob.send('marker');
    await waitFor('the marker', () => seenByAlice.some((message) => message.text === 'marker'));
    expect(seenByAlice.map((message) => message.text)).toEqual(['exactly once', 'marker']);
    expect(seenByBob.map((message) => message.text)).toEqual(['exactly once', 'marker']);
    const { messages } = await bob.history();
    expect(messages.filter((message) => message.text === 'exactly once')).toHaveLength(1);
  });
});
