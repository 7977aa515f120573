import { afterAll, beforeAll, expect, it } from 'vitest';
import { MongoStandIn } from '@switchyard/mongo-standin';
import { nodeOfSessionId, workerOfSessionId } from '../../src/cluster/session-id.js';
import {
  engineOpen,
  enginePollUntil,
  enginePost,
  type GatewayNode,
  startNode,
  stopEverything,
  waitFor,
} from '@switchyard/testkit';

/*
 * Forwarding with GATEWAY_WORKERS in MongoDB mode: gw1 runs two workers (each one a node of the
 * cluster, both advertising gw1's address), gw2 runs alone. A session of either worker of gw1 used
 * through gw2 is forwarded to gw1, whose primary hands it to the right worker; a session of gw2 used
 * through gw1 is forwarded by whichever worker gets it.
 */

const SECRET = 'workers-cluster-secret-0123456789abcdef';
let mongo: MongoStandIn;
let gw1: GatewayNode;
let gw2: GatewayNode;

beforeAll(async () => {
  mongo = await MongoStandIn.start();
  const env = {
    MONGODB_URI: mongo.uri,
    MONGODB_DB: 'e2e-workers-forwarding',
    CLUSTER_SECRET: SECRET,
    ADAPTER_HEARTBEAT_INTERVAL_MS: '500',
    ADAPTER_HEARTBEAT_TIMEOUT_MS: '3000',
    RATE_LIMIT_BURST: '1000',
  };
  gw1 = await startNode('gw1', { ...env, GATEWAY_WORKERS: '2' });
  gw2 = await startNode('gw2', env);
}, 120_000);

afterAll(async () => {
  await stopEverything();
  await mongo?.stop();
}, 30_000);

/** Connects a session to Socket.IO entirely through `via` and reads the connect packet back. */
async function connectThrough(via: string, sid: string): Promise<void> {
  expect((await enginePost(via, sid, ['40'])).body).toBe('ok');
  expect(await enginePollUntil(via, sid, (packet) => packet.startsWith('40'))).toMatch(/^40\{"sid":/);
}

it("serves sessions of both of a node's workers through another node, and the other way round", async () => {
  const sessions = new Map<number, string>();
  await waitFor('a session on each worker of gw1', async () => {
    const sid = await engineOpen(gw1.url);
    const worker = workerOfSessionId(sid);
    if (worker !== undefined && !sessions.has(worker)) sessions.set(worker, sid);
    return sessions.size === 2;
  });
  for (const sid of sessions.values()) await connectThrough(gw2.url, sid);

  const onGw2 = await engineOpen(gw2.url);
  expect(nodeOfSessionId(onGw2)).toBe('gw2');
  await connectThrough(gw1.url, onGw2);
});
