import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ChatMessage, Room, RoomCount, SwitchyardClient, SwitchyardClientError } from '../src/index.js';
import {
  API_KEY,
  ClientPool,
  metricValue,
  publish,
  type StartedGateway,
  startGateway,
  startTcpProxy,
  waitFor,
} from '@switchyard/testkit';

/*
 * A room handle's presence in both modes: `members` and `count` in members mode, `count` and
 * `listMembers()` in large mode, across the threshold both ways, and after reconnects, recovered
 * or not. The gateway's threshold is 3: large at 4 members, members mode again at 2 (90 %).
 */

const BASE = {
  LARGE_ROOM_THRESHOLD: '3',
  PRESENCE_INTERVAL_MS: '20',
  RATE_LIMIT_BURST: '1000',
  RATE_LIMIT_PER_SECOND: '1000',
  API_KEYS: API_KEY,
  PUBLISH_RATE_LIMIT_MAX: '1000000',
};

let plain: StartedGateway;
let recovering: StartedGateway;
beforeAll(async () => {
  [plain, recovering] = await Promise.all([
    startGateway(BASE),
    startGateway({ ...BASE, MAX_DISCONNECTION_DURATION_MS: '60000', SOCKET_BUFFER_BYTES: '65536' }),
  ]);
});
afterAll(() => Promise.all([plain.close(), recovering.close()]));

let roomCounter = 0;
const freshRoom = () => `presence-${++roomCounter}`;
const names = (room: Room) => room.members.map((member) => member.name).sort();

function counts(room: Room): RoomCount[] {
  const seen: RoomCount[] = [];
  room.on('count', (count) => seen.push(count));
  return seen;
}

async function everyone(room: Room): Promise<string[]> {
  const listed: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await room.listMembers({ limit: 2, ...(cursor === undefined ? {} : { cursor }) });
    listed.push(...page.members.map((member) => member.name));
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return listed;
}

describe.each(['polling', 'websocket'] as const)('room presence over %s', (transport) => {
  const pool = new ClientPool([transport]);
  afterEach(() => pool.closeAll());

  const member = (gateway: StartedGateway, name: string, room: string) =>
    pool.client(gateway.url, { name, userId: name }).join(room);

  it('lists members, then counts them above the threshold, then lists them again below it', async () => {
    const room = freshRoom();
    const alice = await member(plain, 'alice', room);
    const seen = counts(alice);
    const bob = await member(plain, 'bob', room);
    await member(plain, 'carol', room);
    await waitFor('three listed', () => alice.members.length === 3);
    expect(alice).toMatchObject({ count: 3, mode: 'members' });

    const dave = pool.client(plain.url, { name: 'dave', userId: 'dave' });
    const daveRoom = await dave.join(room);
    expect(daveRoom).toMatchObject({ count: 4, mode: 'large', members: [] });
    await waitFor('alice to see the room large', () => alice.mode === 'large');
    expect(alice).toMatchObject({ count: 4, members: [] });
    expect(seen.at(-1)).toEqual({ count: 4, mode: 'large' });
    expect(await everyone(alice)).toEqual(['alice', 'bob', 'carol', 'dave']);

    dave.close();
    await waitFor('alice to count 3', () => alice.count === 3);
    expect(alice.mode).toBe('large');
    await (await member(plain, 'erin', room)).leave();
    // A second tab of carol comes and goes: one member all along.
    await (await member(plain, 'carol', room)).leave();
    expect(alice.count).toBe(3);
    // Down to 2 (bob leaves): members mode again, the whole list back at once.
    await bob.leave();
    await waitFor('alice to list the room again', () => alice.mode === 'members');
    expect(names(alice)).toEqual(['alice', 'carol']);
    expect(alice.count).toBe(2);
    expect(seen.at(-1)).toEqual({ count: 2, mode: 'members' });
  });

  it('is right again after a reconnect that rejoins, in both modes', async () => {
    const room = freshRoom();
    const proxy = await startTcpProxy(plain.port);
    try {
      const aliceClient = pool.client(proxy.url, { name: 'alice', userId: 'alice' });
      const alice = await aliceClient.join(room);
      const bob = await member(plain, 'bob', room);
      await waitFor('alice to see bob', () => alice.members.length === 2);

      proxy.setOffline(true);
      await waitFor('alice to notice', () => aliceClient.state === 'reconnecting');
      await member(plain, 'carol', room);
      await bob.leave();
      proxy.setOffline(false);
      await aliceClient.ready();
      await waitFor('alice to list carol', () => names(alice).join() === 'alice,carol');
      expect(alice).toMatchObject({ count: 2, mode: 'members' });

      proxy.setOffline(true);
      await waitFor('alice to notice again', () => aliceClient.state === 'reconnecting');
      for (const name of ['dave', 'erin', 'frank']) await member(plain, name, room);
      proxy.setOffline(false);
      await aliceClient.ready();
      await waitFor('alice to count 5', () => alice.count === 5);
      expect(alice).toMatchObject({ mode: 'large', members: [] });
      expect(await everyone(alice)).toEqual(['alice', 'carol', 'dave', 'erin', 'frank']);
    } finally {
      pool.closeAll();
      await proxy.close();
    }
  });
});

describe('room presence after a recovered session (WebSocket)', () => {
  const pool = new ClientPool(['websocket']);
  afterEach(() => pool.closeAll());

  /** Drops the client's transport and keeps it away until the gateway has saved its session (its member count fell). */
  async function away(client: SwitchyardClient, observer: Room, count: number): Promise<void> {
    client.socket.io.reconnection(false);
    client.socket.io.engine.close();
    await waitFor('the gateway to notice', () => observer.count === count);
  }
  function back(client: SwitchyardClient): Promise<void> {
    client.socket.io.reconnection(true);
    client.socket.connect();
    return client.ready();
  }

  it('has the right list and count when it comes back, whatever it missed, in both modes', async () => {
    const room = freshRoom();
    const aliceClient = pool.client(recovering.url, { name: 'alice', userId: 'alice' });
    const alice = await aliceClient.join(room);
    const bob = await pool.client(recovering.url, { name: 'bob', userId: 'bob' }).join(room);
    await waitFor('alice to see bob', () => alice.members.length === 2);

    await away(aliceClient, bob, 1);
    const carolClient = pool.client(recovering.url, { name: 'carol', userId: 'carol' });
    await carolClient.join(room);
    await waitFor('bob to see carol', () => bob.count === 2);
    await back(aliceClient);
    expect(aliceClient.socket.recovered).toBe(true);
    await waitFor('alice to list carol', () => names(alice).join() === 'alice,bob,carol');
    expect(alice).toMatchObject({ count: 3, mode: 'members' });

    await away(aliceClient, bob, 2);
    for (const name of ['dave', 'erin']) await pool.client(recovering.url, { name, userId: name }).join(room);
    await waitFor('bob to count 4', () => bob.count === 4);
    await back(aliceClient);
    expect(aliceClient.socket.recovered).toBe(true);
    await waitFor('alice to count 5', () => alice.count === 5);
    expect(alice).toMatchObject({ mode: 'large', members: [] });

    await away(aliceClient, bob, 4);
    carolClient.close();
    await waitFor('bob to count 3', () => bob.count === 3);
    await back(aliceClient);
    expect(aliceClient.socket.recovered).toBe(true);
    await waitFor('alice to count 4', () => alice.count === 4);
    expect(await everyone(alice)).toEqual(['alice', 'bob', 'dave', 'erin']);
  });

  it('reconnects a client closed as a slow consumer and resumes its session: every message once, in order', async () => {
    const room = freshRoom();
    const proxy = await startTcpProxy(recovering.port);
    try {
      const aliceClient = pool.client(proxy.url, { name: 'alice', userId: 'alice' });
      const errors: SwitchyardClientError[] = [];
      aliceClient.onError((error) => errors.push(error));
      const alice = await aliceClient.join(room);
      const received: string[] = [];
      alice.on('message', (message: ChatMessage) => received.push(message.id));
      const sent: string[] = [];
      const post = async () => {
        const { status, body } = await publish(recovering.url, room, { text: `${sent.length} ${'x'.repeat(3990)}` });
        if (status !== 201) throw new Error(`publish refused: ${status}`);
        sent.push(body.id as string);
      };
      await post();
      await waitFor('the first message', () => received.length === 1);

      proxy.stallDownstream();
      const closesBefore = await metricValue(
        recovering.url,
        'switchyard_slow_consumer_closes_total',
        '{transport="websocket"}',
      );
      for (let i = 0; i < 5000; i += 1) {
        await post();
        if (
          i % 20 === 0 &&
          (await metricValue(recovering.url, 'switchyard_slow_consumer_closes_total', '{transport="websocket"}')) >
            closesBefore
        )
          break;
      }
      expect(
        await metricValue(recovering.url, 'switchyard_slow_consumer_closes_total', '{transport="websocket"}'),
      ).toBe(closesBefore + 1);
      proxy.release();

      await waitFor('the notice', () => errors.some((error) => error.code === 'SLOW_CONSUMER'));
      await aliceClient.ready();
      for (let i = 0; i < 5; i += 1) await post();
      await waitFor('every message', () => received.length === sent.length, { timeoutMs: 20_000 });
      expect(aliceClient.socket.recovered).toBe(true);
      expect(received).toEqual(sent);
    } finally {
      pool.closeAll();
      await proxy.close();
    }
  });
});
