import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MongoStandIn } from '@switchyard/mongo-standin';
import type { ChatMessage } from '@switchyard/protocol';
import { ensureSdkBundle, launchChromium, say, sees, twoTabsOnTwoNodes } from './browser.js';
import {
  clientOn,
  closeSockets,
  E2E_DEADLINE_MS,
  type GatewayNode,
  type Nginx,
  NGINX_TEMPLATES,
  nodeOf,
  startNginx,
  startNode,
  stopEverything,
  type TestSocket,
  transportOf,
  upgradeErrorsOf,
  waitFor,
} from '@switchyard/testkit';

/*
 * Three gateway processes on the MongoDB stand-in behind nginx, configured from the repository's
 * docker/nginx templates: clients really land on different nodes (their session ids say which)
 * and chat across them, over polling only, over WebSocket only, and through a proxy that breaks
 * WebSockets with the client's default options.
 */

const NODES = ['gw1', 'gw2', 'gw3'];
let mongo: MongoStandIn;
let nodes: GatewayNode[] = [];
let balancer: Nginx;
let broken: Nginx;

beforeAll(async () => {
  mongo = await MongoStandIn.start();
  const env = {
    MONGODB_URI: mongo.uri,
    MONGODB_DB: 'e2e-cluster',
    ADAPTER_HEARTBEAT_INTERVAL_MS: '500',
    ADAPTER_HEARTBEAT_TIMEOUT_MS: '3000',
    RATE_LIMIT_BURST: '1000',
  };
  // One at a time: three tsx start-ups at once are slow on a loaded 2-core machine.
  for (const nodeId of NODES) nodes.push(await startNode(nodeId, env));
  ensureSdkBundle();
  [balancer, broken] = await Promise.all([
    startNginx(NGINX_TEMPLATES.sticky, nodes),
    startNginx(NGINX_TEMPLATES.websocketBreaking, nodes),
  ]);
}, 120_000);

afterAll(async () => {
  await stopEverything();
  await mongo?.stop();
  nodes = [];
}, 30_000);

afterEach(closeSockets);

/** Every problem a socket reports: a polling request routed to the wrong node shows up here. */
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
  sockets.forEach((socket, index) =>
    socket.on('message:new', (message: ChatMessage) => received[index]?.push(message.text)),
  );
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
  await waitFor('every message everywhere', () => received.every((texts_) => texts_.length >= texts.length), {
    timeoutMs: E2E_DEADLINE_MS,
  });
  for (const got of received) expect([...got].sort()).toEqual([...texts].sort());
}

describe('three gateways behind nginx', () => {
  it('routes every polling session to its own node, and polling clients on different nodes chat', async () => {
    const errors: string[] = [];
    const sockets: TestSocket[] = [];
    for (const nodeId of NODES) sockets.push(await clientOn(balancer.url, nodeId, { transports: ['polling'] }));
    expect(sockets.map(nodeOf)).toEqual(NODES);
    sockets.forEach((socket) => watchErrors(socket, errors));
    const room = `polling-${randomUUID().slice(0, 8)}`;
    for (const socket of sockets) await join(socket, room);
    // A few rounds: dozens of polling requests per session, each of which must reach its node.
    for (let round = 0; round < 3; round += 1) await everyoneHearsEveryone(sockets, room);
    expect(sockets.every((socket) => transportOf(socket) === 'polling')).toBe(true);
    expect(errors).toEqual([]);
  });

  it('WebSocket-only clients on different nodes chat, with members from every node', async () => {
    const errors: string[] = [];
    const sockets: TestSocket[] = [];
    for (const [index, nodeId] of NODES.entries()) {
      sockets.push(
        await clientOn(balancer.url, nodeId, {
          transports: ['websocket'],
          auth: { name: `ws${index}`, userId: `ws-${index}` },
        }),
      );
    }
    expect(sockets.map(nodeOf)).toEqual(NODES);
    sockets.forEach((socket) => watchErrors(socket, errors));
    const room = `ws-${randomUUID().slice(0, 8)}`;
    for (const socket of sockets) await join(socket, room);
    // Each node shares its members with the others once per presence interval: a rejoin soon lists them all.
    await waitFor('members from every node in a join ack', async () => {
      const ack = (await sockets[0]?.timeout(10_000).emitWithAck('room:join', { room })) as {
        members: { id: string }[];
      };
      return (
        ack.members
          .map((member) => member.id)
          .sort()
          .join() === 'ws-0,ws-1,ws-2'
      );
    });
    await everyoneHearsEveryone(sockets, room);
    expect(sockets.every((socket) => transportOf(socket) === 'websocket')).toBe(true);
    expect(errors).toEqual([]);
  });

  it('through a WebSocket-breaking proxy, default clients stay on polling and chat across nodes', async () => {
    const errors: string[] = [];
    const sockets: TestSocket[] = [];
    for (const nodeId of ['gw1', 'gw3']) sockets.push(await clientOn(broken.url, nodeId, { defaults: true }));
    sockets.forEach((socket) => watchErrors(socket, errors));
    await waitFor(
      'the WebSocket upgrade probes to fail',
      () => sockets.every((socket) => upgradeErrorsOf(socket) > 0),
      { timeoutMs: E2E_DEADLINE_MS },
    );
    const room = `broken-${randomUUID().slice(0, 8)}`;
    for (const socket of sockets) await join(socket, room);
    await everyoneHearsEveryone(sockets, room);
    // The upgrade probe cannot succeed through this proxy: the sessions are (still) polling.
    expect(sockets.map(transportOf)).toEqual(['polling', 'polling']);
    expect(sockets.map(nodeOf)).toEqual(['gw1', 'gw3']);
    expect(errors).toEqual([]);
  });

  it('answers health and readiness through the balancer', async () => {
    expect((await fetch(`${balancer.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${balancer.url}/readyz`)).status).toBe(200);
  });
});

describe('the demo page in Chromium, through nginx', () => {
  it('two tabs on two different nodes chat both ways, then again through a WebSocket-breaking proxy', async () => {
    const browser = await launchChromium();
    try {
      const [ada, grace] = await twoTabsOnTwoNodes(browser, balancer.url);
      expect(ada.node()).not.toBe(grace.node());
      const hello = `hello from Ada ${randomUUID().slice(0, 6)}`;
      await say(ada, hello);
      await sees(grace, hello);
      const reply = `hi Ada, Grace here ${randomUUID().slice(0, 6)}`;
      await say(grace, reply);
      await sees(ada, reply);
      // Through the good proxy the SDK upgrades to WebSocket.
      await waitFor('a WebSocket in use', () => ada.usedWebSocket() && grace.usedWebSocket(), {
        timeoutMs: E2E_DEADLINE_MS,
      });
      await Promise.all([ada.page.context().close(), grace.page.context().close()]);

      const [lin, tim] = await twoTabsOnTwoNodes(browser, broken.url);
      expect(lin.node()).not.toBe(tim.node());
      const question = `polling only? ${randomUUID().slice(0, 6)}`;
      await say(lin, question);
      await sees(tim, question);
      const answer = `yes, and it works ${randomUUID().slice(0, 6)}`;
      await say(tim, answer);
      await sees(lin, answer);
      expect(lin.usedWebSocket() || tim.usedWebSocket()).toBe(false);
    } finally {
      await browser.close();
    }
  }, 120_000);
});
