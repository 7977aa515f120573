import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type ChatMessage as SdkMessage, type SwitchyardClient } from '@switchyard/client';
import { MongoStandIn } from '@switchyard/mongo-standin';
import type { ChatMessage } from '@switchyard/protocol';
import { FORWARD_HEADER } from '../../src/cluster/forward-signature.js';
import { nodeOfSessionId } from '../../src/cluster/session-id.js';
import { ensureSdkBundle, launchChromium, say, sees, twoTabsOnTwoNodes } from './browser.js';
import {
  clientOn,
  clientTo,
  closeSockets,
  connectedSocket,
  E2E_DEADLINE_MS,
  engineOpen,
  type GatewayNode,
  metricValue,
  type Nginx,
  NGINX_TEMPLATES,
  nodeOf,
  startNginx,
  startNode,
  stopEverything,
  type TestSocket,
  transportOf,
  waitFor,
} from '@switchyard/testkit';

/*
 * "Any load balancer will do": three gateway processes on the MongoDB stand-in behind nginx doing
 * plain round-robin, no stickiness at all (docker/nginx/round-robin.conf.template). Every polling
 * request, and every WebSocket upgrade, lands on whichever node is next; the nodes forward what is
 * not theirs to its owner. Clients that can only poll chat without one "Session ID unknown", clients
 * with the default transports upgrade even when the upgrade lands elsewhere, Chromium works behind a
 * WebSocket-breaking round-robin proxy, a forged forward is refused, and when a node is killed its
 * clients come back on the others with nothing lost.
 */

const NODES = ['gw1', 'gw2', 'gw3'] as const;
const CLUSTER_SECRET = 'e2e-cluster-secret-0123456789abcdefghij';
let mongo: MongoStandIn;
let env: Record<string, string>;
const nodes = new Map<string, GatewayNode>();
let roundRobin: Nginx;
let brokenRoundRobin: Nginx;

beforeAll(async () => {
  mongo = await MongoStandIn.start();
  env = {
    MONGODB_URI: mongo.uri,
    MONGODB_DB: 'e2e-any-lb',
    CLUSTER_SECRET,
    ADAPTER_HEARTBEAT_INTERVAL_MS: '500',
    ADAPTER_HEARTBEAT_TIMEOUT_MS: '3000',
    RATE_LIMIT_BURST: '1000',
    RATE_LIMIT_PER_SECOND: '1000',
  };
  // One at a time: three tsx start-ups at once are slow on a loaded 2-core machine.
  for (const nodeId of NODES) nodes.set(nodeId, await startNode(nodeId, env));
  ensureSdkBundle();
  const all = NODES.map((nodeId) => node(nodeId));
  [roundRobin, brokenRoundRobin] = await Promise.all([
    startNginx(NGINX_TEMPLATES.roundRobin, all),
    startNginx(NGINX_TEMPLATES.websocketBreakingRoundRobin, all),
  ]);
}, 120_000);

afterAll(async () => {
  await stopEverything();
  await mongo?.stop();
}, 30_000);

afterEach(closeSockets);

function node(nodeId: string): GatewayNode {
  const found = nodes.get(nodeId);
  if (!found) throw new Error(`no node ${nodeId}`);
  return found;
}

/** Forwarded requests of one kind and outcome, summed over the nodes (each node's own /metrics). */
async function forwarded(kind: 'poll' | 'send' | 'upgrade', outcome = 'forwarded'): Promise<number> {
  const counts = await Promise.all(
    [...nodes.values()].map((gateway) =>
      metricValue(gateway.url, 'switchyard_forwarded_requests_total', `{kind="${kind}",outcome="${outcome}"}`).catch(
        () => 0,
      ),
    ),
  );
  return counts.reduce((sum, count) => sum + count, 0);
}

/** Every problem a socket reports: a request answered "Session ID unknown" shows up here. */
function watchErrors(socket: TestSocket, errors: string[]): void {
  socket.on('connect_error', (error) => errors.push(`connect_error: ${error.message}`));
  socket.on('disconnect', (reason) => errors.push(`disconnect: ${reason}`));
  socket.io.on('error', (error) => errors.push(`manager error: ${error.message}`));
}

async function join(socket: TestSocket, room: string): Promise<void> {
  const ack = (await socket.timeout(10_000).emitWithAck('room:join', { room })) as { ok: boolean };
  expect(ack.ok).toBe(true);
}

/** Each socket sends one message; every socket (sender included) receives every message once. */
async function everyoneHearsEveryone(sockets: TestSocket[], room: string): Promise<void> {
  const received = sockets.map(() => [] as string[]);
  const listeners = sockets.map((socket, index) => {
    const listener = (message: ChatMessage): void => void received[index]?.push(message.text);
    socket.on('message:new', listener);
    return listener;
  });
  const texts = sockets.map((_socket, index) => `from ${index} ${randomUUID()}`);
  await Promise.all(
    sockets.map(async (socket, index) => {
      const ack = (await socket
        .timeout(10_000)
        .emitWithAck('message:send', { room, text: texts[index] as string, clientMessageId: randomUUID() })) as {
        ok: boolean;
      };
      expect(ack.ok).toBe(true);
    }),
  );
  await waitFor('every message everywhere', () => received.every((got) => got.length >= texts.length), {
    timeoutMs: E2E_DEADLINE_MS,
  });
  for (const got of received) expect([...got].sort()).toEqual([...texts].sort());
  sockets.forEach((socket, index) => socket.off('message:new', listeners[index]));
}

describe('three gateways behind a round-robin balancer without stickiness', () => {
  it('polling-only clients on different nodes chat, with no "Session ID unknown"', async () => {
    const errors: string[] = [];
    const sockets: TestSocket[] = [];
    for (const nodeId of NODES) sockets.push(await clientOn(roundRobin.url, nodeId, { transports: ['polling'] }));
    expect(sockets.map(nodeOf)).toEqual([...NODES]);
    sockets.forEach((socket) => watchErrors(socket, errors));
    const before = { poll: await forwarded('poll'), send: await forwarded('send') };
    const room = `rr-polling-${randomUUID().slice(0, 8)}`;
    for (const socket of sockets) await join(socket, room);
    // Several rounds: dozens of polling requests per session, two thirds of them on the wrong node.
    for (let round = 0; round < 3; round += 1) await everyoneHearsEveryone(sockets, room);
    expect(sockets.map(transportOf)).toEqual(['polling', 'polling', 'polling']);
    expect(errors).toEqual([]);
    // They were forwarded, not lucky.
    expect(await forwarded('poll')).toBeGreaterThan(before.poll);
    expect(await forwarded('send')).toBeGreaterThan(before.send);
    expect(await forwarded('poll', 'owner_unreachable')).toBe(0);
  });

  it('clients with the default transports upgrade to WebSocket, also when the upgrade lands on another node', async () => {
    const errors: string[] = [];
    const sockets: TestSocket[] = [];
    const before = await forwarded('upgrade');
    // Each upgrade goes to whichever node is next: keep adding clients until one went elsewhere.
    for (let attempt = 0; attempt < 30 && (sockets.length < 3 || (await forwarded('upgrade')) === before); attempt++) {
      const socket = await connectedSocket(clientTo(roundRobin.url, { auth: { name: `up${attempt}` } }));
      watchErrors(socket, errors);
      await waitFor('the upgrade', () => transportOf(socket) === 'websocket', { timeoutMs: E2E_DEADLINE_MS });
      sockets.push(socket);
    }
    expect(await forwarded('upgrade')).toBeGreaterThan(before);
    const room = `rr-upgrade-${randomUUID().slice(0, 8)}`;
    for (const socket of sockets) await join(socket, room);
    await everyoneHearsEveryone(sockets, room);
    expect(sockets.every((socket) => transportOf(socket) === 'websocket')).toBe(true);
    expect(new Set(sockets.map(nodeOf)).size).toBeGreaterThan(1);
    expect(errors).toEqual([]);
  });

  it('refuses a forged forwarded request, through the balancer and at a node', async () => {
    const sid = await engineOpen(node('gw2').url);
    const path = `/socket.io/?EIO=4&transport=polling&sid=${sid}`;
    const forged = `v1.${Date.now()}.gw1.gw2.${'A'.repeat(43)}`;
    for (const base of [roundRobin.url, node('gw2').url]) {
      const refused = await fetch(`${base}${path}`, { headers: { [FORWARD_HEADER]: forged } });
      expect(refused.status).toBe(403);
      expect(((await refused.json()) as { code: string }).code).toBe('FORBIDDEN');
    }
    expect(await forwarded('poll', 'forged')).toBeGreaterThanOrEqual(2);
  });
});

describe('the demo page in Chromium behind round-robin balancers', () => {
  it('two tabs on two nodes chat, upgrading through one balancer and staying on polling through a WebSocket-breaking one', async () => {
    const browser = await launchChromium();
    try {
      const [ada, grace] = await twoTabsOnTwoNodes(browser, roundRobin.url);
      const hello = `hello over round-robin ${randomUUID().slice(0, 6)}`;
      await say(ada, hello);
      await sees(grace, hello);
      await waitFor('a WebSocket in use', () => ada.usedWebSocket() && grace.usedWebSocket(), {
        timeoutMs: E2E_DEADLINE_MS,
      });
      await Promise.all([ada.page.context().close(), grace.page.context().close()]);

      const [lin, tim] = await twoTabsOnTwoNodes(browser, brokenRoundRobin.url);
      expect(lin.node()).not.toBe(tim.node());
      const question = `polling, no stickiness? ${randomUUID().slice(0, 6)}`;
      await say(lin, question);
      await sees(tim, question);
      const answer = `yes, forwarded ${randomUUID().slice(0, 6)}`;
      await say(tim, answer);
      await sees(lin, answer);
      expect(lin.usedWebSocket() || tim.usedWebSocket()).toBe(false);
    } finally {
      await browser.close();
    }
  }, 120_000);
});

describe('a node killed behind the round-robin balancer', () => {
  const clients: SwitchyardClient[] = [];
  afterEach(() => {
    for (const client of clients.splice(0)) client.close();
  });

  /** An SDK client over polling only whose session landed on `nodeId`. */
  async function pollingClientOn(nodeId: string, name: string): Promise<SwitchyardClient> {
    for (let attempt = 0; attempt < 60; attempt += 1) {
      const client = createClient(roundRobin.url, {
        name,
        transports: ['polling'],
        ackTimeoutMs: 5_000,
        socketOptions: { reconnectionDelay: 100, reconnectionDelayMax: 1_000 },
      });
      await client.ready(E2E_DEADLINE_MS);
      if (nodeOfSessionId(client.socket.io.engine.id) === nodeId) {
        clients.push(client);
        return client;
      }
      client.close();
      // Round-robin: each attempt makes the same number of requests; one more shifts the rotation.
      await fetch(`${roundRobin.url}/healthz`);
    }
    throw new Error(`no session landed on ${nodeId}`);
  }

  it('kill -9 of the owner: its polling clients reconnect to the others and lose nothing', async () => {
    const room = `kill-owner-${randomUUID().slice(0, 8)}`;
    const readers = await Promise.all([1, 2, 3].map((index) => pollingClientOn('gw3', `reader${index}`)));
    const sender = await pollingClientOn('gw1', 'sender');
    const received = readers.map(() => [] as string[]);
    const rooms = await Promise.all(readers.map((reader) => reader.join(room)));
    rooms.forEach((joined, index) =>
      joined.on('message', (message: SdkMessage) => received[index]?.push(message.text)),
    );
    const senderRoom = await sender.join(room);

    const texts = Array.from({ length: 40 }, (_, index) => `k${index + 1}`);
    for (const [index, text] of texts.entries()) {
      if (index === 15) node('gw3').child.kill('SIGKILL');
      await senderRoom.send(text);
    }
    await waitFor('every reader to have every message', () => received.every((got) => got.length >= texts.length), {
      timeoutMs: 60_000,
    });
    // Each message once, in order, on every reader; and they are on the survivors now.
    for (const got of received) expect(got).toEqual(texts);
    for (const reader of readers) expect(['gw1', 'gw2']).toContain(nodeOfSessionId(reader.socket.io.engine.id));
    expect(readers.every((reader) => reader.state === 'connected')).toBe(true);

    // Back to three nodes.
    nodes.set('gw3', await startNode('gw3', env, { port: node('gw3').port }));
  }, 120_000);
});
