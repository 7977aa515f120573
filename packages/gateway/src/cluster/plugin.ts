import type { FastifyPluginAsync } from 'fastify';
import type { Registry } from 'prom-client';
import type { NodeLeftHook } from '../adapters/node-left.js';
import type { GatewayServer } from '../types.js';
import type { Cluster } from './cluster.js';
import { bridgeAdapterMetrics } from './metrics.js';
import { mongoAdapterOf } from './mongo.js';

export interface ClusterPluginOptions {
  io: GatewayServer;
  cluster: Cluster;
  /** The adapter's "node left" hook; undefined on a single node. */
  nodes: NodeLeftHook | undefined;
  registry: Registry;
}

/**
 * The cluster as the rest of the node sees it: in MongoDB mode the adapter's reports become
 * Prometheus metrics (evictions counted from its public node-left event), and on close the adapter
 * says goodbye (ADAPTER_CLOSE) before the MongoDB client closes.
 */
export const clusterPlugin: FastifyPluginAsync<ClusterPluginOptions> = async (
  app,
  { io, cluster, nodes, registry },
) => {
  const mongo = mongoAdapterOf(io);
  if (cluster.mongo !== undefined && mongo !== undefined) {
    const metrics = bridgeAdapterMetrics(registry, {
      events: mongo.events,
      health: () => mongo.health(),
      serverCount: () => 1 + mongo.liveNodes().length,
    });
    const stopCounting = nodes?.onNodeLeft(() => metrics.nodeEvicted());
    app.addHook('onClose', async () => stopCounting?.());
  }
  app.addHook('onClose', async () => {
    // The adapter writes ADAPTER_CLOSE through the client: close it first (a no-op if already closed).
    await io.of('/').adapter.close();
    await cluster.close();
  });
};
