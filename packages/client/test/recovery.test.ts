import { SignJWT } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ChatMessage, ConnectionState, PresenceChange, Room, SwitchyardClient } from '../src/index.js';
import { ClientPool, type StartedGateway, startGateway, startTcpProxy, waitFor } from '@switchyard/testkit';

/*
 * Reconnects against a gateway with Socket.IO connection state recovery on
 * (MAX_DISCONNECTION_DURATION_MS turns it on in the in-memory mode too). A recovered session is
 * already back in its rooms and has had its missed packets replayed: the SDK must not rejoin or
 * page history, and must still deliver every message once, in order.
 */

const SECRET = 'a-test-secret-that-is-long-enough-for-hs256';
const LIMITS = { RATE_LIMIT_BURST: '1000', RATE_LIMIT_PER_SECOND: '1000' };

let recovering: StartedGateway;
/** Recovery on, but a session expires 1 ms after its socket drops: every reconnect is a new session. */
let expiring: StartedGateway;
let recoveringJwt: StartedGateway;
beforeAll(async () => {
  [recovering, expiring, recoveringJwt] = await Promise.all([
    startGateway({ ...LIMITS, MAX_DISCONNECTION_DURATION_MS: '60000' }),
    startGateway({ ...LIMITS, MAX_DISCONNECTION_DURATION_MS: '1' }),
    startGateway({ ...LIMITS, MAX_DISCONNECTION_DURATION_MS: '60000', AUTH_MODE: 'jwt', JWT_SECRET: SECRET }),
  ]);
});
afterAll(() => Promise.all([recovering.close(), expiring.close(), recoveringJwt.close()]));

let roomCounter = 0;
const freshRoom = () => `recovery-${++roomCounter}`;

function collect(room: Room): ChatMessage[] {
  const messages: ChatMessage[] = [];
  room.on('message', (message) => messages.push(message));
  return messages;
}

function presenceLog(room: Room): string[] {
  const changes: string[] = [];
  room.on('presence', (change: PresenceChange) => changes.push(`${change.type} ${change.member.name}`));
  return changes;
}

/** Everything the client's socket emits from now on. */
function outgoing(client: SwitchyardClient): string[] {
  const events: string[] = [];
  client.socket.onAnyOutgoing((event: string) => events.push(event));
  return events;
}

/** Message counts seen by `received` each time the client announced `connected`. */
function receivedAtConnected(client: SwitchyardClient, received: readonly ChatMessage[]): number[] {
  const counts: number[] = [];
  client.onState((state: ConnectionState) => state === 'connected' && counts.push(received.length));
  return counts;
}

const texts = (messages: readonly ChatMessage[]) => messages.map((message) => message.text);
const numbered = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `m${from + i}`);

async function sendNumbered(room: Room, from: number, to: number): Promise<void> {
  for (let i = from; i <= to; i++) await room.send(`m${i}`);
}

/**
 * Closes the client's transport and keeps it away until the gateway has handled the disconnect
 * (`observer`, in the same room, sees its user leave): only then is the session saved, so the
 * reconnect can recover it whatever the transport. Socket.IO's own reconnection is paused for
 * that, so the test decides when the client comes back (`comeBack`).
 */
async function dropUntilNoticed(
  client: SwitchyardClient,
  observerPresence: readonly string[],
  name: string,
  cut: () => void = () => void client.socket.io.engine.close(),
): Promise<void> {
  const leavesBefore = observerPresence.filter((change) => change === `leave ${name}`).length;
  client.socket.io.reconnection(false);
  cut();
  await waitFor('the client to notice', () => client.state === 'reconnecting');
  await waitFor(
    'the gateway to notice',
    () => observerPresence.filter((change) => change === `leave ${name}`).length > leavesBefore,
  );
}

function comeBack(client: SwitchyardClient): void {
  client.socket.io.reconnection(true);
  client.socket.connect();
}

describe.each(['polling', 'websocket'] as const)('a recovered session over %s', (transport) => {
  const pool = new ClientPool([transport]);
  afterEach(() => pool.closeAll());

  async function aliceAndBob(gateway: StartedGateway, name: string) {
    const aliceClient = pool.client(gateway.url, { name: 'alice' });
    const alice = await aliceClient.join(name);
    const bob = await pool.client(gateway.url, { name: 'bob' }).join(name);
    await waitFor('alice to see bob', () => alice.members.length === 2);
    return { aliceClient, alice, bob, bobPresence: presenceLog(bob) };
  }

  it('delivers every message once, in order, without rejoining or paging history', async () => {
    const name = freshRoom();
    const { aliceClient, alice, bob, bobPresence } = await aliceAndBob(recovering, name);
    const received = collect(alice);
    const alicePresence = presenceLog(alice);
    const atConnected = receivedAtConnected(aliceClient, received);
    await sendNumbered(bob, 1, 5);
    await waitFor('the first messages', () => received.length === 5);
    const sentByAlice = outgoing(aliceClient);

    await dropUntilNoticed(aliceClient, bobPresence, 'alice');
    await sendNumbered(bob, 6, 15); // all missed
    const sending = sendNumbered(bob, 16, 40); // while alice comes back
    comeBack(aliceClient);
    await aliceClient.ready();
    await sending;

    await waitFor('all 40 messages', () => received.length >= 40);
    expect(aliceClient.socket.recovered).toBe(true);
    expect(texts(received)).toEqual(numbered(1, 40));
    // `connected` came once the replay was delivered: at least everything sent before the reconnect.
    expect(atConnected).toHaveLength(1);
    expect(atConnected[0]).toBeGreaterThanOrEqual(15);
    // No room:join, no history:fetch: nothing at all went out for the reconnect.
    expect(sentByAlice).toEqual([]);
    // Her own leave, replayed by the gateway, is not a change: she never left.
    expect(alicePresence).toEqual([]);
    expect(alice.members.map((member) => member.name).sort()).toEqual(['alice', 'bob']);
    // The gateway still has her in the room.
    await expect(alice.send('back')).resolves.toMatchObject({ text: 'back' });
    await waitFor('her own message', () => received.length === 41);
    expect(received.at(-1)?.text).toBe('back');
  });

  it('reports the presence changes it missed once, from the replay', async () => {
    const name = freshRoom();
    const { aliceClient, alice, bob, bobPresence } = await aliceAndBob(recovering, name);
    const alicePresence = presenceLog(alice);
    const sentByAlice = outgoing(aliceClient);

    await dropUntilNoticed(aliceClient, bobPresence, 'alice');
    await pool.client(recovering.url, { name: 'carol' }).join(name);
    await bob.leave();
    comeBack(aliceClient);
    await aliceClient.ready();

    expect(aliceClient.socket.recovered).toBe(true);
    expect(alicePresence).toEqual(['join carol', 'leave bob']);
    expect(alice.members.map((member) => member.name).sort()).toEqual(['alice', 'carol']);
    expect(sentByAlice).toEqual([]);
  });

  it('falls back to rejoining and catching up when the session could not be recovered', async () => {
    const name = freshRoom();
    const { aliceClient, alice, bob, bobPresence } = await aliceAndBob(expiring, name);
    const received = collect(alice);
    const atConnected = receivedAtConnected(aliceClient, received);
    await sendNumbered(bob, 1, 3);
    await waitFor('the first messages', () => received.length === 3);
    const sentByAlice = outgoing(aliceClient);

    await dropUntilNoticed(aliceClient, bobPresence, 'alice');
    await sendNumbered(bob, 4, 10);
    comeBack(aliceClient);
    await aliceClient.ready();
    await sendNumbered(bob, 11, 12);

    await waitFor('all 12 messages', () => received.length >= 12);
    expect(aliceClient.socket.recovered).toBe(false);
    expect(texts(received)).toEqual(numbered(1, 12));
    expect(sentByAlice).toContain('room:join');
    expect(atConnected).toEqual([10]); // announced after the catch-up, before the live ones
    expect(alice.members.map((member) => member.name).sort()).toEqual(['alice', 'bob']);
  });
});

describe('a recovered session cut off mid-request (WebSocket, through a proxy)', () => {
  const pool = new ClientPool(['websocket']);
  afterEach(() => pool.closeAll());

  it('retries a send whose ack was lost and delivers it once', async () => {
    const name = freshRoom();
    const proxy = await startTcpProxy(recovering.port);
    try {
      const aliceClient = pool.client(proxy.url, { name: 'alice' });
      const alice = await aliceClient.join(name);
      const bob = await pool.client(recovering.url, { name: 'bob' }).join(name);
      const bobPresence = presenceLog(bob);
      const received = collect(alice);
      const seenByBob = collect(bob);
      // A session is recoverable from the last broadcast it received (socket.io's offset): bob's arrival is one.
      await waitFor('alice to see bob', () => alice.members.length === 2);
      const sendAttempts: string[] = [];
      aliceClient.socket.onAnyOutgoing((event: string, payload: { clientMessageId?: string }) => {
        if (event === 'message:send' && payload.clientMessageId !== undefined)
          sendAttempts.push(payload.clientMessageId);
      });

      proxy.holdDownstream(); // the gateway stores the message; its ack (and the broadcast) are held back
      const sending = alice.send('exactly once');
      await waitFor('the gateway to store and broadcast it', () => seenByBob.length === 1);
      // The held ack is lost with the connection. (Over polling the gateway would not notice a cut
      // connection with no request pending before its ping timeout, hence WebSocket only.)
      await dropUntilNoticed(aliceClient, bobPresence, 'alice', () => proxy.setOffline(true));
      proxy.release();
      proxy.setOffline(false);
      await bob.send('meanwhile');
      comeBack(aliceClient);

      const stored = await sending;
      await bob.send('marker');
      await waitFor('the marker', () => received.some((message) => message.text === 'marker'));
      expect(aliceClient.socket.recovered).toBe(true);
      expect(stored.id).toBe(seenByBob[0]?.id);
      expect(sendAttempts.length).toBeGreaterThanOrEqual(2);
      expect(new Set(sendAttempts).size).toBe(1);
      expect(texts(received)).toEqual(['exactly once', 'meanwhile', 'marker']);
      expect(texts(seenByBob)).toEqual(['exactly once', 'meanwhile', 'marker']);
    } finally {
      pool.closeAll();
      await proxy.close();
    }
  });
  it('rejoins and catches up a room whose rejoin was cut short, even when recovered', async () => {
    const name = freshRoom();
    const proxy = await startTcpProxy(recovering.port);
    try {
      const aliceClient = pool.client(proxy.url, { name: 'alice' });
      const alice = await aliceClient.join(name);
      const bob = await pool.client(recovering.url, { name: 'bob' }).join(name);
      const bobPresence = presenceLog(bob);
      const received = collect(alice);
      const atConnected = receivedAtConnected(aliceClient, received);
      await bob.send('m0');
      await waitFor('the first message', () => received.length === 1);

      // First outage, not recovered (as if the session had expired): the SDK rejoins on connect,
      // and its rejoin is cut short, the ack held back by the proxy.
      (aliceClient.socket as unknown as { _pid?: string })._pid = undefined;
      await dropUntilNoticed(aliceClient, bobPresence, 'alice');
      await bob.send('m1');
      const sentByAlice = outgoing(aliceClient);
      aliceClient.socket.once('connect', () => proxy.holdDownstream()); // after the SDK's handler sent room:join
      comeBack(aliceClient);
      await waitFor('the rejoin', () => sentByAlice.includes('room:join'));
      await waitFor('the gateway to take the rejoin', () => bob.members.length === 2);

      // Second outage, recovered: the room was not in sync, so it is rejoined and caught up.
      await dropUntilNoticed(aliceClient, bobPresence, 'alice', () => proxy.setOffline(true));
      proxy.release();
      proxy.setOffline(false);
      await bob.send('m2');
      comeBack(aliceClient);
      await aliceClient.ready();
      await bob.send('m3');

      await waitFor('all messages', () => received.length >= 4);
      expect(aliceClient.socket.recovered).toBe(true);
      expect(texts(received)).toEqual(['m0', 'm1', 'm2', 'm3']);
      expect(sentByAlice.filter((event) => event === 'room:join')).toHaveLength(2);
      expect(atConnected).toEqual([3]);
    } finally {
      pool.closeAll();
      await proxy.close();
    }
  });
});

describe('a recovered session in jwt mode', () => {
  const pool = new ClientPool(['websocket']);
  afterEach(() => pool.closeAll());

  const sign = (sub: string, name: string) =>
    new SignJWT({ name })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(sub)
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(SECRET));

  it('does not report its own user leaving', async () => {
    const name = freshRoom();
    const aliceClient = pool.client(recoveringJwt.url, { getToken: () => sign('user-é-1', 'alice') });
    const alice = await aliceClient.join(name);
    const bob = await pool.client(recoveringJwt.url, { token: await sign('user-2', 'bob') }).join(name);
    await waitFor('alice to see bob', () => alice.members.length === 2);
    const alicePresence = presenceLog(alice);
    const bobPresence = presenceLog(bob);
    const received = collect(alice);

    await dropUntilNoticed(aliceClient, bobPresence, 'alice');
    await bob.send('missed');
    comeBack(aliceClient);
    await aliceClient.ready();
    await waitFor('the missed message', () => received.length === 1);

    expect(aliceClient.socket.recovered).toBe(true);
    expect(alicePresence).toEqual([]);
    expect(alice.members.map((member) => member.id).sort()).toEqual(['user-2', 'user-é-1']);
  });
});
