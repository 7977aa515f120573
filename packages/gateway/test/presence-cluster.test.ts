import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Ack, JoinRoomResult, MembersPage, PresenceShares } from '@switchyard/protocol';
import {
  closeAll,
  connect,
  MongoStandIn,
  mongoEnv,
  recordEvents,
  request,
  roundTrip,
  type StartedGateway,
  startGateway,
  startMongoGateways,
  startTcpProxy,
  type TcpProxy,
  type TestSocket,
  waitFor,
} from '@switchyard/testkit';

/*
 * Presence across nodes in MongoDB mode, on the project's stand-in: counts are cluster-wide and
 * exact (a user with sockets on two nodes is one member), a node that joins late adds its members,
 * one that dies (its link to MongoDB cut: it stops heartbeating and the others evict it) takes its
 * members with it, and a burst of joins on a node costs one message to the others, not one per member.
 * Presence intervals are run by the test (`presence.flush()`) so what they fold together is exact.
 */

let mongo: MongoStandIn;
let db = 0;
const proxies: TcpProxy[] = [];

beforeAll(async () => {
  mongo = await MongoStandIn.start();
});
afterAll(async () => {
  await mongo?.stop();
});
afterEach(async () => {
  await closeAll();
  for (const proxy of proxies.splice(0)) await proxy.close();
});

const env = { PRESENCE_INTERVAL_MS: '60000', LARGE_ROOM_THRESHOLD: '4' };

function as(node: StartedGateway, userId: string): Promise<TestSocket> {
  return connect(node.url, { transports: ['websocket'], auth: { name: userId.toUpperCase(), userId } });
}

async function join(socket: TestSocket, room = 'live'): Promise<Extract<Ack<JoinRoomResult>, { ok: true }>> {
  const ack = await request<Ack<JoinRoomResult>>(socket, 'room:join', { room });
  if (!ack.ok) throw new Error(`join refused: ${ack.error.code}`);
  return ack;
}

/**
 * One presence interval on every node, then (once the shares of the first reached the others, which
 * `counting` nodes then count `expected`) another, so every node's clients are told.
 */
async function intervals(
  nodes: StartedGateway[],
  room: string,
  expected: number,
  counting: StartedGateway[] = nodes,
): Promise<void> {
  for (const node of nodes) node.gateway.presence.flush();
  await waitFor(`every node to count ${expected}`, () =>
    counting.every((node) => node.gateway.presence.view(room).count === expected),
  );
  // Large rooms are told every ⌈members / threshold⌉ intervals: two more cover the counts of these tests.
  for (let interval = 0; interval < 2; interval += 1) for (const node of nodes) node.gateway.presence.flush();
}

async function everyone(socket: TestSocket): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await request<Ack<MembersPage>>(socket, 'members:list', {
      room: 'live',
      limit: 2,
      ...(cursor === undefined ? {} : { cursor }),
    });
    if (!page.ok) throw new Error(page.error.code);
    ids.push(...page.members.map((member) => member.id));
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return ids;
}

describe('presence across nodes (MongoDB mode)', () => {
  it('counts every member once cluster-wide, adds a late node’s members, and drops a dead node’s', async () => {
    const database = `presence${++db}`;
    const [a, b] = (await startMongoGateways(mongo, database, ['pa', 'pb'], env)) as [StartedGateway, StartedGateway];
    // Node C reaches MongoDB through a proxy the test can cut: then it falls silent to the others.
    const link = await startTcpProxy(mongo.port);
    proxies.push(link);
    const c = await startGateway(
      mongoEnv(`${link.url.replace('http', 'mongodb')}/?directConnection=true`, database, 'pc', env),
    );
    await waitFor('three nodes', async () => (await a.gateway.io.of('/').adapter.serverCount()) === 3);

    const observerA = await as(a, 'a1');
    const observerB = await as(b, 'b1');
    await join(observerA);
    await join(observerB);
    for (const [node, id] of [
      [a, 'a2'],
      [c, 'c1'],
      [c, 'c2'],
      [a, 'twin'],
      [b, 'twin'],
    ] as const)
      await join(await as(node, id));
    const nodes = [a, b, c];
    const countsA = recordEvents(observerA, 'presence:count');
    const countsB = recordEvents(observerB, 'presence:count');
    await intervals(nodes, 'live', 6);
    await roundTrip(observerA, 'live');
    await roundTrip(observerB, 'live');
    expect(countsA.at(-1)).toEqual({ room: 'live', count: 6 });
    expect(countsB.at(-1)).toEqual({ room: 'live', count: 6 });
    expect(await everyone(observerB)).toEqual(['a1', 'a2', 'b1', 'c1', 'c2', 'twin']);

    // A node that joins late: its first joiner's ack already counts the whole room, and the others add its members.
    const d = (await startGateway(mongoEnv(mongo.uri, database, 'pd', env))) as StartedGateway;
    await waitFor('four nodes', async () => (await a.gateway.io.of('/').adapter.serverCount()) === 4);
    const first = await join(await as(d, 'd1'));
    expect(first).toMatchObject({ mode: 'large', memberCount: 7 });
    await join(await as(d, 'd2'));
    await intervals([a, b, c, d], 'live', 8);
    await roundTrip(observerA, 'live');
    expect(countsA.at(-1)).toEqual({ room: 'live', count: 8 });

    // C dies for the others: its members leave with it (after the heartbeat timeout), and only them.
    link.setOffline(true);
    await waitFor(
      'A and B to drop C',
      () => [a, b, d].every((node) => node.gateway.presence.view('live').count === 6),
      {
        timeoutMs: 20_000,
      },
    );
    for (const node of [a, b, d]) node.gateway.presence.flush();
    await roundTrip(observerA, 'live');
    await roundTrip(observerB, 'live');
    expect(countsA.at(-1)).toEqual({ room: 'live', count: 6 });
    expect(countsB.at(-1)).toEqual({ room: 'live', count: 6 });
    expect(await everyone(observerA)).toEqual(['a1', 'a2', 'b1', 'd1', 'd2', 'twin']);
    // C gets its link back before it closes: a node closing without MongoDB waits out its timeouts.
    link.setOffline(false);
  }, 60_000);

  it('lists a member on two nodes once, and says they left only when their last node lets go', async () => {
    const [a, b] = (await startMongoGateways(mongo, `presence${++db}`, ['ma', 'mb'], {
      ...env,
      LARGE_ROOM_THRESHOLD: '100',
    })) as [StartedGateway, StartedGateway];
    const observer = await as(b, 'watcher');
    await join(observer);
    const diffs = recordEvents(observer, 'presence:diff');
    const twinOnA = await as(a, 'twin');
    const twinOnB = await as(b, 'twin');
    await join(twinOnA);
    await join(twinOnB);
    await intervals([a, b], 'live', 2);
    await roundTrip(observer, 'live');
    expect(diffs.flatMap((diff) => diff.joined.map((m) => m.id))).toContain('twin');
    const joinedBefore = diffs.length;

    twinOnA.disconnect();
    await waitFor('A to let twin go', () => a.gateway.presence.socketsOf('live', 'twin') === 0);
    // A holds nobody in the room any more: it forgets the room; B counts on.
    await intervals([a, b], 'live', 2, [b]);
    await roundTrip(observer, 'live');
    expect(diffs.slice(joinedBefore).flatMap((diff) => diff.left)).toEqual([]);

    twinOnB.disconnect();
    await waitFor('B to let twin go', () => b.gateway.presence.socketsOf('live', 'twin') === 0);
    await intervals([a, b], 'live', 1, [b]);
    await roundTrip(observer, 'live');
    expect(diffs.at(-1)).toEqual({ room: 'live', joined: [], left: [{ id: 'twin', name: 'TWIN' }], count: 1 });
  }, 60_000);

  it('tells the other nodes about a burst of joins in one message, not one per member', async () => {
    const [a, b] = (await startMongoGateways(mongo, `presence${++db}`, ['ba', 'bb'], env)) as [
      StartedGateway,
      StartedGateway,
    ];
    await join(await as(b, 'watcher'));
    // Every presence message A sends the others, as they leave (the adapter still delivers them).
    const shares: PresenceShares[] = [];
    const io = a.gateway.io;
    const emit = io.serverSideEmit.bind(io) as (event: string, ...args: unknown[]) => boolean;
    io.serverSideEmit = ((event: string, ...args: unknown[]) => {
      if (event === 'presence:shares') shares.push(args[0] as PresenceShares);
      return emit(event, ...args);
    }) as typeof io.serverSideEmit;

    const sockets = await Promise.all(Array.from({ length: 30 }, (_, i) => as(a, `fan-${i}`)));
    await Promise.all(sockets.map((socket) => join(socket)));
    await intervals([a, b], 'live', 31);
    expect(shares).toHaveLength(1);
    expect(shares[0]?.rooms).toHaveLength(1);
    expect(shares[0]?.rooms[0]?.joined).toHaveLength(30);
  }, 60_000);
});
