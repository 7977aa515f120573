import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MongoStandIn } from '@switchyard/mongo-standin';
import type { ChatMessage } from '@switchyard/protocol';
import { workerOfSessionId } from '../../src/cluster/session-id.js';
import {
  clientTo,
  closeSockets,
  closeStreams,
  connectedSocket,
  E2E_DEADLINE_MS,
  type GatewayNode,
  openStream,
  startNode,
  stopEverything,
  stopNode,
  type TestSocket,
  transportOf,
  waitFor,
} from '@switchyard/testkit';

/*
 * GATEWAY_WORKERS=2 without MongoDB: node:cluster workers behind @socket.io/sticky, joined by
 * @socket.io/cluster-adapter. Long-polling requests must reach the worker that owns the session.
 */

let primary: GatewayNode;
let mongo: MongoStandIn | undefined;

beforeAll(async () => {
  primary = await startNode('gw1', {
    GATEWAY_WORKERS: '2',
    RATE_LIMIT_BURST: '1000',
    LARGE_ROOM_THRESHOLD: '3',
    PRESENCE_INTERVAL_MS: '50',
  });
}, 90_000);

afterAll(async () => {
  await stopEverything();
  await mongo?.stop();
}, 30_000);

afterEach(() => {
  closeSockets();
  closeStreams();
});

function workerOf(socket: TestSocket): number | undefined {
  const id = socket.io.engine?.id;
  return id ? workerOfSessionId(id) : undefined;
}

/** Connects until the session lands on a worker other than `notOn`. */
async function clientOnAnotherWorker(
  primary: GatewayNode,
  notOn: number | undefined,
  transports: ('polling' | 'websocket')[],
  name: string,
): Promise<TestSocket> {
  for (let attempt = 0; attempt < 20; attempt += 1) {
    const socket = await connectedSocket(clientTo(primary.url, { transports, auth: { name, userId: name } }));
    if (workerOf(socket) !== notOn) return socket;
    socket.disconnect();
  }
  throw new Error('every session landed on the same worker');
}

describe('GATEWAY_WORKERS=2', () => {
  it('polling and WebSocket clients on different workers chat, polling sessions staying on their worker', async () => {
    await chatAcrossWorkers(primary);
  });

  it('with MONGODB_URI, each worker is a node of the MongoDB cluster and they chat through it', async () => {
    mongo = await MongoStandIn.start();
    const withMongo = await startNode('gw2', {
      GATEWAY_WORKERS: '2',
      RATE_LIMIT_BURST: '1000',
      MONGODB_URI: mongo.uri,
      MONGODB_DB: 'e2e-workers',
      ADAPTER_HEARTBEAT_INTERVAL_MS: '500',
      ADAPTER_HEARTBEAT_TIMEOUT_MS: '3000',
    });
    // A worker that is ready and counts the other worker as a node of the cluster.
    await waitFor(
      'a ready worker that sees the other',
      async () => {
        const metrics = await (await fetch(`${withMongo.url}/metrics`)).text();
        return /^switchyard_adapter_ready 1$/m.test(metrics) && /^switchyard_adapter_nodes 2$/m.test(metrics);
      },
      { timeoutMs: E2E_DEADLINE_MS },
    );
    await chatAcrossWorkers(withMongo);
    expect(await stopNode(withMongo)).toBe(0);
  }, 90_000);

  it('counts a large room’s members across workers, each once, and pages them from any worker', async () => {
    const room = `large-${randomUUID().slice(0, 8)}`;
    const first = await clientOnAnotherWorker(primary, undefined, ['websocket'], 'w-a');
    const other = await clientOnAnotherWorker(primary, workerOf(first), ['websocket'], 'w-b');
    const sockets = [
      first,
      other,
      await clientOnAnotherWorker(primary, workerOf(other), ['websocket'], 'w-c'),
      await clientOnAnotherWorker(primary, workerOf(first), ['websocket'], 'w-d'),
      // A second socket of w-a, on the other worker: still one member.
      await clientOnAnotherWorker(primary, workerOf(first), ['websocket'], 'w-a'),
    ];
    const counts = sockets.map((socket) => {
      const seen: number[] = [];
      socket.on('presence:count', (event) => seen.push(event.count));
      return seen;
    });
    for (const socket of sockets) await socket.timeout(10_000).emitWithAck('room:join', { room });
    await waitFor('every socket to count 4 members', () => counts.every((seen) => seen.at(-1) === 4), {
      timeoutMs: E2E_DEADLINE_MS,
    });
    const page = (await other.timeout(10_000).emitWithAck('members:list', { room, limit: 10 })) as {
      ok: boolean;
      mode: string;
      members: { id: string }[];
    };
    expect(page).toMatchObject({ ok: true, mode: 'large' });
    expect(page.members.map((member) => member.id)).toEqual(['w-a', 'w-b', 'w-c', 'w-d']);
    for (const socket of sockets) socket.disconnect();
  });

  it('tells the members on other workers who left with a worker that died', async () => {
    const ada = await clientOnAnotherWorker(primary, undefined, ['websocket'], 'ada');
    const bob = await clientOnAnotherWorker(primary, workerOf(ada), ['websocket'], 'bob');
    const room = `dead-worker-${randomUUID().slice(0, 8)}`;
    await ada.timeout(10_000).emitWithAck('room:join', { room });
    await bob.timeout(10_000).emitWithAck('room:join', { room });
    const left: string[] = [];
    bob.on('presence:diff', (diff) => left.push(...diff.left.map((member) => member.id)));

    // SIGKILL: the worker says nothing; the others notice its silence after the heartbeat timeout.
    process.kill(workerPid(primary, workerOf(ada)), 'SIGKILL');
    await waitFor('bob to hear that ada left', () => left.includes('ada'), { timeoutMs: E2E_DEADLINE_MS });
    expect(left).toEqual(['ada']);
  }, 60_000);

  it('stops every worker on SIGTERM', async () => {
    expect(await stopNode(primary)).toBe(0);
  });
});

/** The pid of a worker of `primary`, by its node:cluster id (which node:cluster passes it as NODE_UNIQUE_ID). */
function workerPid(primary: GatewayNode, workerId: number | undefined): number {
  const pids = execFileSync('pgrep', ['-P', String(primary.child.pid)], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean);
  for (const pid of pids) {
    const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    if (environ.includes(`NODE_UNIQUE_ID=${workerId}`)) return Number(pid);
  }
  throw new Error(`no worker ${workerId} among ${pids.join(', ')}`);
}

async function chatAcrossWorkers(primary: GatewayNode): Promise<void> {
  {
    const errors: string[] = [];
    const polling = await clientOnAnotherWorker(primary, undefined, ['polling'], 'pat');
    const websocket = await clientOnAnotherWorker(primary, workerOf(polling), ['websocket'], 'wes');
    expect(workerOf(polling)).toBeDefined();
    expect(workerOf(websocket)).toBeDefined();
    expect(workerOf(websocket)).not.toBe(workerOf(polling));
    for (const socket of [polling, websocket]) {
      socket.on('connect_error', (error) => errors.push(error.message));
      socket.on('disconnect', (reason) => errors.push(reason));
    }

    const room = `workers-${randomUUID().slice(0, 8)}`;
    await polling.timeout(10_000).emitWithAck('room:join', { room });
    const joined = (await websocket.timeout(10_000).emitWithAck('room:join', { room })) as {
      members: { id: string }[];
    };
    expect(joined.members.map((member) => member.id).sort()).toEqual(['pat', 'wes']);

    // An SSE stream on whichever worker serves it sees this worker's broadcasts and the other's.
    const stream = await openStream(`${primary.url}/v1/rooms/${room}/events`);
    const atPolling: string[] = [];
    const atWebSocket: string[] = [];
    polling.on('message:new', (message: ChatMessage) => atPolling.push(message.text));
    websocket.on('message:new', (message: ChatMessage) => atWebSocket.push(message.text));
    for (let round = 0; round < 5; round += 1) {
      await polling
        .timeout(10_000)
        .emitWithAck('message:send', { room, text: `p${round}`, clientMessageId: randomUUID() });
      await websocket
        .timeout(10_000)
        .emitWithAck('message:send', { room, text: `w${round}`, clientMessageId: randomUUID() });
    }
    const expected = ['p0', 'w0', 'p1', 'w1', 'p2', 'w2', 'p3', 'w3', 'p4', 'w4'];
    await waitFor('both to receive everything', () => atPolling.length >= 10 && atWebSocket.length >= 10, {
      timeoutMs: E2E_DEADLINE_MS,
    });
    expect(atPolling).toEqual(expected);
    expect(atWebSocket).toEqual(expected);
    const streamed = await stream.waitForEvents<ChatMessage>('message:new', 10);
    expect(streamed.map((message) => message.text)).toEqual(expected);
    expect(transportOf(polling)).toBe('polling');
    expect(errors).toEqual([]);
    polling.disconnect();
    websocket.disconnect();
  }
}
