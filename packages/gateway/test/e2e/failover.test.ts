import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MongoStandIn } from '@switchyard/mongo-standin';
import { ChatReader, sendUntilStored } from './chat-reader.js';
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
  statusOf,
  stopEverything,
  waitFor,
} from '@switchyard/testkit';

/*
 * Nodes going away under traffic, behind the repository's nginx config: a numbered stream of
 * messages must reach every client exactly once (live, by connection state recovery, or through
 * history after a fresh session) whether a node is killed with SIGKILL or the nodes are restarted
 * one by one with SIGTERM.
 */

const NODES = ['gw1', 'gw2', 'gw3'] as const;
let mongo: MongoStandIn;
let env: Record<string, string>;
const nodes = new Map<string, GatewayNode>();
let balancer: Nginx;

beforeAll(async () => {
  mongo = await MongoStandIn.start();
  env = {
    MONGODB_URI: mongo.uri,
    MONGODB_DB: 'e2e-failover',
    ADAPTER_HEARTBEAT_INTERVAL_MS: '500',
    ADAPTER_HEARTBEAT_TIMEOUT_MS: '3000',
    RATE_LIMIT_BURST: '1000',
    RATE_LIMIT_PER_SECOND: '1000',
    DRAIN_TIMEOUT_MS: '5000',
  };
  for (const nodeId of NODES) nodes.set(nodeId, await startNode(nodeId, env));
  balancer = await startNginx(
    NGINX_TEMPLATES.sticky,
    NODES.map((nodeId) => nodes.get(nodeId) as GatewayNode),
  );
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

/** Two readers per node (one polling only, one WebSocket only) and a sender. */
async function audience(room: string, senderNode: string): Promise<{ readers: ChatReader[]; sender: ChatReader }> {
  const readers: ChatReader[] = [];
  for (const nodeId of NODES) {
    for (const transport of ['polling', 'websocket'] as const) {
      const socket = await clientOn(balancer.url, nodeId, {
        transports: [transport],
        auth: { name: `${nodeId}-${transport}`, userId: `${nodeId}-${transport}` },
      });
      readers.push(await new ChatReader(socket, room).ready());
    }
  }
  const sender = await new ChatReader(
    await clientOn(balancer.url, senderNode, { auth: { name: 'sender', userId: 'sender' } }),
    room,
  ).ready();
  return { readers, sender };
}

function describeReader(sent: string[]) {
  return (reader: ChatReader): string => {
    const have = new Set(reader.texts());
    const missing = sent.filter((text) => !have.has(text));
    return `${reader.socket.io.opts.transports?.join('+')} on ${nodeOf(reader.socket)}: joins ${reader.joins}, recoveries ${reader.recoveries}, missing ${missing.join(',')}, from history after recovery ${reader.fromHistoryAfterRecovery.length}`;
  };
}

function expectEveryoneHasExactly(readers: ChatReader[], texts: string[]): void {
  for (const reader of readers) {
    expect(reader.duplicateDeliveries(), `duplicates at ${reader.socket.id}`).toEqual([]);
    expect(reader.texts()).toEqual(texts);
  }
}

describe('nodes going away under traffic', () => {
  it('kill -9 of a node: its clients reconnect to the others and nobody misses or duplicates a message', async () => {
    const room = `kill-${randomUUID().slice(0, 8)}`;
    const { readers, sender } = await audience(room, 'gw1');
    // A member who stays away: the survivors must hear that they left with the dead node.
    const ghost = await clientOn(balancer.url, 'gw3', {
      reconnection: false,
      auth: { name: 'ghost', userId: 'ghost' },
    });
    expect((await ghost.timeout(10_000).emitWithAck('room:join', { room })) as { ok: boolean }).toMatchObject({
      ok: true,
    });
    const survivors = readers.filter((reader) => nodeOf(reader.socket) !== 'gw3');

    const texts = Array.from({ length: 60 }, (_, index) => `n${index + 1}`);
    for (const [index, text] of texts.entries()) {
      if (index === 20) node('gw3').child.kill('SIGKILL');
      await sendUntilStored(sender, text, `kill-${index}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    await waitFor(
      'every reader to have every message',
      () => readers.every((reader) => reader.messages.size >= texts.length),
      { timeoutMs: 60_000 },
    );
    expectEveryoneHasExactly([...readers, sender], texts);
    // The dead node's clients are on the others now.
    for (const reader of readers) expect(['gw1', 'gw2']).toContain(nodeOf(reader.socket));

    await waitFor(
      'presence:leave for the member of the dead node',
      () => [...survivors, sender].every((reader) => reader.presenceLeaves.some((member) => member.id === 'ghost')),
      { timeoutMs: E2E_DEADLINE_MS },
    );
    for (const reader of [...survivors, sender])
      expect(reader.presenceLeaves.filter((member) => member.id === 'ghost')).toHaveLength(1);

    // Back to three nodes for the next test.
    nodes.set('gw3', await startNode('gw3', env, { port: node('gw3').port }));
  }, 120_000);

  it('rolling restart: readiness drops before the node stops, and no message is lost or duplicated', async () => {
    const room = `rolling-${randomUUID().slice(0, 8)}`;
    const { readers, sender } = await audience(room, 'gw2');
    const sent: string[] = [];
    let stopAt = Number.POSITIVE_INFINITY;
    const stream = (async () => {
      for (let index = 0; index < stopAt; index += 1) {
        const text = `r${index + 1}`;
        await sendUntilStored(sender, text, `rolling-${index}`);
        sent.push(text);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    })();

    for (const nodeId of NODES) {
      const old = node(nodeId);
      await waitFor('some traffic', () => sent.length > 0, { timeoutMs: E2E_DEADLINE_MS });
      // Probe readiness as fast as possible while the node shuts down.
      const seen: (number | 'refused')[] = [];
      let probing = true;
      const probe = (async () => {
        while (probing) seen.push(await statusOf(`${old.url}/readyz`));
      })();
      await waitFor('a first probe', () => seen.length > 0, { timeoutMs: E2E_DEADLINE_MS });
      old.child.kill('SIGTERM');
      expect(await old.exited).toBe(0);
      probing = false;
      await probe;
      const firstNotReady = seen.findIndex((status) => status !== 200);
      expect(seen[firstNotReady], `readiness while stopping ${nodeId}: ${seen.join(',')}`).toBe(503);
      nodes.set(nodeId, await startNode(nodeId, env, { port: old.port }));
    }
    // Five more once every node has been restarted.
    stopAt = sent.length + 5;
    await stream;

    await waitFor(
      'every reader to have every message',
      () => readers.every((reader) => reader.messages.size >= sent.length),
      { timeoutMs: 30_000 },
    ).catch((error: unknown) => {
      throw new Error(`${String(error)}\n${readers.map(describeReader(sent)).join('\n')}`);
    });
    expectEveryoneHasExactly([...readers, sender], sent);
    expect(sent.length).toBeGreaterThanOrEqual(8);
    // Drained sessions were restored on other nodes by connection state recovery.
    expect(readers.some((reader) => reader.recoveries > 0)).toBe(true);
    if (process.env.E2E_DEBUG)
      console.log(
        readers.map(
          (reader) =>
            `${reader.recoveries} recoveries, from history after recovery: ${reader.fromHistoryAfterRecovery.length}`,
        ),
      );
  }, 150_000);
});
