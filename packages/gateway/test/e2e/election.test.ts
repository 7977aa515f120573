import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { ChatMessage, Member } from '@switchyard/protocol';
import { MemoryMessageStore } from '../../src/store/memory.js';
import {
  closeAll,
  connect,
  metricValue,
  MongoStandIn,
  request,
  type StartedGateway,
  startMongoGateways,
  type TestSocket,
  waitFor,
} from '@switchyard/testkit';

/*
 * A routine MongoDB election under three gateway nodes on a three-member replica set. For several
 * seconds MongoDB has no primary: nodes stay ready (degraded, all alike), nobody is evicted, no
 * presence is reaped, and once a primary is elected every cross-node message arrives exactly once, in
 * each sender's order.
 */

/** Several seconds with no primary: long past the nodes' heartbeat timeout (1.5 s, see mongoEnv). */
const ELECTION_MS = 4000;
const ROOM = 'square';
const NODES = ['e1', 'e2', 'e3'] as const;

let mongo: MongoStandIn | undefined;
afterEach(async () => {
  await closeAll();
  await mongo?.stop();
  mongo = undefined;
});

interface Received {
  text: string;
  /** The stand-in had no primary when it arrived. */
  duringElection: boolean;
}

/** A member in the room on one node, recording what it receives. */
interface Chatter {
  name: string;
  node: string;
  socket: TestSocket;
  received: Received[];
  leaves: Member[];
}

async function chatter(gateway: StartedGateway, node: string, transport: 'websocket' | 'polling'): Promise<Chatter> {
  const name = `${node}-${transport}`;
  const socket = await connect(gateway.url, { transports: [transport], auth: { name, userId: name } });
  const chatter: Chatter = { name, node, socket, received: [], leaves: [] };
  socket.on('message:new', (message: ChatMessage) => {
    if (message.room === ROOM)
      chatter.received.push({ text: message.text, duringElection: mongo?.primary === undefined });
  });
  socket.on('presence:diff', (diff) => {
    if (diff.room === ROOM) chatter.leaves.push(...diff.left);
  });
  await request(socket, 'room:join', { room: ROOM });
  return chatter;
}

async function readiness(gateway: StartedGateway): Promise<{ code: number; body: Record<string, unknown> }> {
  const response = await fetch(`${gateway.url}/readyz`);
  return { code: response.status, body: (await response.json()) as Record<string, unknown> };
}

function texts(chatter: Chatter): string[] {
  return chatter.received.map((r) => r.text);
}

/** Every chatter has every text once; each sender's texts arrive in the order they were sent. */
function expectExactlyOnceInOrder(chatters: Chatter[], sent: Map<string, string[]>): void {
  const all = [...sent.values()].flat();
  for (const c of chatters) {
    expect([...texts(c)].sort(), `${c.name} got every message once`).toEqual([...all].sort());
    for (const [sender, theirs] of sent) {
      expect(
        texts(c).filter((text) => text.startsWith(`${sender}#`)),
        `${c.name} got ${sender}'s in order`,
      ).toEqual(theirs);
    }
  }
}

async function send(c: Chatter, text: string, ackTimeoutMs = 10_000): Promise<ChatMessage> {
  const ack = (await c.socket.timeout(ackTimeoutMs).emitWithAck('message:send', {
    room: ROOM,
    text,
    clientMessageId: randomUUID(),
  })) as { ok: boolean; message?: ChatMessage };
  if (!ack.ok || !ack.message) throw new Error(`message:send refused: ${JSON.stringify(ack)}`);
  return ack.message;
}

async function everyoneDegraded(gateways: StartedGateway[]): Promise<void> {
  await waitFor('every node to see the election (readiness degraded)', async () => {
    const states = await Promise.all(gateways.map(readiness));
    return states.every((s) => s.code === 200 && s.body.status === 'degraded');
  });
}

async function expectCountsEveryone(gateways: StartedGateway[]): Promise<void> {
  for (const gateway of gateways) expect(await gateway.gateway.io.of('/').adapter.serverCount()).toBe(3);
}

describe('a MongoDB election under three gateway nodes', () => {
  it('local rooms keep working during it; every cross-node message arrives once, in order, afterwards', async () => {
    mongo = await MongoStandIn.start({ members: 3 });
    // History in each node's memory: the MongoDB store needs a primary to take a message (its ids come from a
    // counter in MongoDB), so with it a message sent during an election is stored and broadcast only once
    // the new primary is elected (the next test). Connection state recovery off: with it, a node's own
    // broadcasts wait for their echo through the change stream (being changed separately).
    const gateways = await startMongoGateways(
      mongo,
      'election-local',
      NODES,
      { MAX_DISCONNECTION_DURATION_MS: '0' },
      () => ({ store: new MemoryMessageStore({ historyPerRoom: 1000 }) }),
    );
    const chatters: Chatter[] = [];
    for (const [i, node] of NODES.entries()) {
      for (const transport of ['websocket', 'polling'] as const)
        chatters.push(await chatter(gateways[i]!, node, transport));
    }
    const sent = new Map<string, string[]>(chatters.map((c) => [c.name, []]));
    const say = async (c: Chatter, round: number) => {
      const text = `${c.name}#${round}`;
      sent.get(c.name)!.push(text);
      await send(c, text);
    };

    await Promise.all(chatters.map((c) => say(c, 0)));
    await waitFor('the first round everywhere', () => chatters.every((c) => c.received.length === chatters.length));

    mongo.faults.failover({ electionMs: ELECTION_MS });
    await everyoneDegraded(gateways);
    for (let round = 1; round <= 3; round++) await Promise.all(chatters.map((c) => say(c, round)));
    const local = (c: Chatter) =>
      chatters.filter((other) => other.node === c.node).flatMap((other) => sent.get(other.name)!.slice(1));
    await waitFor('every message to reach the sockets of its own node', () =>
      chatters.every((c) => local(c).every((text) => texts(c).includes(text))),
    );
    expect(mongo.primary, `the election (${ELECTION_MS} ms) outlasted the local chat`).toBeUndefined();
    for (const c of chatters) {
      for (const text of local(c)) {
        expect(c.received.find((r) => r.text === text)?.duringElection, `${c.name} got ${text} during it`).toBe(true);
      }
    }
    // Still ready (all alike), still counting each other.
    for (const gateway of gateways) {
      expect(await readiness(gateway)).toMatchObject({
        code: 200,
        body: { status: 'degraded', reason: 'waiting-for-primary', mongo: 'no-primary' },
      });
    }
    await expectCountsEveryone(gateways);

    await waitFor('the new primary', () => mongo?.primary !== undefined, { timeoutMs: 30_000 });
    await waitFor('every message everywhere', () => chatters.every((c) => c.received.length === 4 * chatters.length));
    expectExactlyOnceInOrder(chatters, sent);
    // What crossed nodes was held in the outboxes: none of it arrived while there was no primary.
    for (const c of chatters) {
      const remote = c.received.filter((r) => !r.text.startsWith(`${c.node}-`) && !r.text.endsWith('#0'));
      expect(remote.filter((r) => r.duringElection)).toEqual([]);
    }
    expect(
      chatters.flatMap((c) => c.leaves),
      'no presence reaped',
    ).toEqual([]);
    for (const gateway of gateways) {
      expect(await metricValue(gateway.url, 'switchyard_adapter_nodes_evicted_total')).toBe(0);
      await waitFor('ready again', async () => (await readiness(gateway)).body.status === 'ready');
    }
    await expectCountsEveryone(gateways);
  }, 60_000);

  it('a node stopped during it still delivers what it held once a primary is elected', async () => {
    mongo = await MongoStandIn.start({ members: 3 });
    const gateways = await startMongoGateways(
      mongo,
      'election-drain',
      NODES,
      // The default drain budget (the testkit's is short, for quick teardowns).
      { MAX_DISCONNECTION_DURATION_MS: '0', DRAIN_TIMEOUT_MS: '25000' },
      () => ({ store: new MemoryMessageStore({ historyPerRoom: 1000 }) }),
    );
    const chatters = await Promise.all(NODES.map((node, i) => chatter(gateways[i]!, node, 'websocket')));
    const [first, second, leaving] = chatters as [Chatter, Chatter, Chatter];
    mongo.faults.failover({ electionMs: ELECTION_MS });
    await everyoneDegraded(gateways);
    await send(leaving, `${leaving.name}#1`);
    await send(leaving, `${leaving.name}#2`);
    // Rolling restart during the election: the node drains (DRAIN_TIMEOUT_MS, 25 s by default) and its
    // adapter waits, within its share of that budget, for a primary to write what its outbox holds.
    const stopped = gateways[2]!.close();
    await waitFor('the new primary', () => mongo?.primary !== undefined, { timeoutMs: 30_000 });
    await stopped;
    const expected = [`${leaving.name}#1`, `${leaving.name}#2`];
    await waitFor("the stopped node's messages elsewhere", () =>
      [first, second].every((c) => texts(c).length === expected.length),
    );
    for (const c of [first, second]) expect(texts(c)).toEqual(expected);
  }, 60_000);

  it('with history in MongoDB: messages sent during it are stored and delivered once, in order, when a primary is elected', async () => {
    mongo = await MongoStandIn.start({ members: 3 });
    // Production settings: the MongoDB store, connection state recovery on.
    const gateways = await startMongoGateways(mongo, 'election-stored', NODES);
    const chatters = await Promise.all(NODES.map((node, i) => chatter(gateways[i]!, node, 'websocket')));
    const sent = new Map<string, string[]>(
      chatters.map((c) => [c.name, [`${c.name}#0`, `${c.name}#1`, `${c.name}#2`]]),
    );
    await Promise.all(chatters.map((c) => send(c, `${c.name}#0`)));

    mongo.faults.failover({ electionMs: ELECTION_MS });
    await everyoneDegraded(gateways);
    // Acknowledged once the new primary has stored them (the driver waits up to serverSelectionTimeoutMS, 30 s).
    const during = chatters.map((c) => send(c, `${c.name}#1`, 30_000));
    await waitFor('the new primary', () => mongo?.primary !== undefined, { timeoutMs: 30_000 });
    const stored = await Promise.all(during);
    expect(new Set(stored.map((m) => m.id)).size).toBe(chatters.length);
    await Promise.all(chatters.map((c) => send(c, `${c.name}#2`)));

    await waitFor('every message everywhere', () => chatters.every((c) => c.received.length === 3 * chatters.length));
    expectExactlyOnceInOrder(chatters, sent);
    expect(
      chatters.flatMap((c) => c.leaves),
      'no presence reaped',
    ).toEqual([]);
    for (const gateway of gateways) {
      expect(await metricValue(gateway.url, 'switchyard_adapter_nodes_evicted_total')).toBe(0);
    }
    await expectCountsEveryone(gateways);
    // History agrees with what was delivered.
    const page = await request<{ ok: true; messages: ChatMessage[] }>(chatters[0]!.socket, 'history:fetch', {
      room: ROOM,
      limit: 50,
    });
    expect(page.messages.map((m) => m.text).sort()).toEqual([...sent.values()].flat().sort());
  }, 60_000);
});
