import type { GatewayDeps } from '@switchyard/gateway';
import { MongoStandIn } from '@switchyard/mongo-standin';
import { type StartedGateway, startGateway } from './gateways.js';
import { waitFor } from './wait-for.js';

/*
 * MongoDB mode on the project's stand-in: the environment of a node, and in-process nodes that are
 * ready and count each other before a test uses them.
 */

export { MongoStandIn };

/** A node's MongoDB-mode environment, with heartbeats fast enough for tests. */
export function mongoEnv(
  uri: string,
  db: string,
  nodeId: string,
  env: Record<string, string> = {},
): Record<string, string> {
  return {
    MONGODB_URI: uri,
    MONGODB_DB: db,
    NODE_ID: nodeId,
    ADAPTER_HEARTBEAT_INTERVAL_MS: '200',
    ADAPTER_HEARTBEAT_TIMEOUT_MS: '1500',
    RATE_LIMIT_BURST: '1000',
    ...env,
  };
}

/**
 * In-process gateways in MongoDB mode, one per node id, once every one is ready and counts the others.
 * `deps` gives a node what `createGateway` would otherwise build (its own history store, say).
 */
export async function startMongoGateways(
  mongo: MongoStandIn,
  db: string,
  nodeIds: readonly string[],
  env: Record<string, string> = {},
  deps?: (nodeId: string) => GatewayDeps,
): Promise<StartedGateway[]> {
  const nodes = await Promise.all(
    nodeIds.map((nodeId) => startGateway(mongoEnv(mongo.uri, db, nodeId, env), deps?.(nodeId))),
  );
  await waitFor('every node ready and counting the others', async () => {
    const counts = await Promise.all(nodes.map((node) => node.gateway.io.of('/').adapter.serverCount()));
    const ready = await Promise.all(nodes.map(async (node) => (await fetch(`${node.url}/readyz`)).status === 200));
    return counts.every((count) => count === nodes.length) && ready.every(Boolean);
  });
  return nodes;
}
