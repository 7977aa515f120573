import nodeCluster from 'node:cluster';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import type { FastifyPluginAsync } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ForwardingConfig, GatewayConfig } from '../config.js';
import type { GatewayServer } from '../types.js';
import type { Cluster } from './cluster.js';
import { createForwardMetrics } from './forward-metrics.js';
import { createForwardSigner } from './forward-signature.js';
import { HttpForwarder, InFlight } from './http-forwarder.js';
import { mongoDirectory, type NodeDirectory, selfDirectory } from './node-directory.js';
import { sessionRouting } from './session-routing.js';

/*
 * "Works behind any load balancer" (CLUSTER_SECRET set): this node advertises its INTERNAL_URL in the
 * node directory and routes every Engine.IO request to the node that owns its session (see
 * session-routing.ts). Without CLUSTER_SECRET nothing here runs, and the balancer must be sticky.
 */

export interface ForwardingPluginOptions {
  io: GatewayServer;
  config: GatewayConfig;
  cluster: Cluster;
  registry: Registry;
  log: Logger;
}

export const forwardingPlugin: FastifyPluginAsync<ForwardingPluginOptions> = async (
  app,
  { io, config, cluster, registry, log },
) => {
  const forwarding = config.forwarding;
  if (forwarding === undefined) return;
  const selfUrl = (): string | undefined => internalUrlOf(forwarding, config, app.server.address());
  const directory: NodeDirectory =
    cluster.mongo !== undefined && config.mongo !== undefined
      ? await mongoDirectory({
          db: cluster.mongo.client.db(config.mongo.db),
          nodeId: config.nodeId,
          selfUrl,
          intervalMs: config.mongo.heartbeatIntervalMs,
          ttlMs: config.mongo.heartbeatTimeoutMs,
          log,
        })
      : selfDirectory(config.nodeId, selfUrl);
  const metrics = createForwardMetrics(registry);
  const signer = createForwardSigner(forwarding.secret);
  const inFlight = new InFlight(forwarding.maxInFlight, metrics);
  const forwarder = new HttpForwarder({
    signer,
    self: config.nodeId,
    timeoutMs: forwarding.timeoutMs,
    longPollMs: pingIntervalOf(io),
    inFlight,
    metrics,
    log,
  });

  // The sessions engine.io holds here, from its public events.
  const held = new Set<string>();
  function release(this: { id: string }): void {
    held.delete(this.id);
  }
  io.engine.on('connection', (socket: { id: string; on(event: 'close', listener: () => void): void }) => {
    held.add(socket.id);
    socket.on('close', release);
  });

  io.engine.use(
    sessionRouting({
      nodeId: config.nodeId,
      worker: workerOf(config),
      holds: (sid) => held.has(sid),
      directory,
      signer,
      forwarder,
      upgrades: { signer, self: config.nodeId, timeoutMs: forwarding.timeoutMs, inFlight, metrics },
      metrics,
      log,
    }),
  );
  // With PORT=0 the URL is known once the port is bound.
  app.addHook('onListen', async () => directory.advertise());
  app.addHook('onClose', async () => {
    await forwarder.close();
    await directory.close();
  });
};

/** This worker's id under GATEWAY_WORKERS (its session ids end `.w<id>`), else undefined. */
function workerOf(config: GatewayConfig): number | undefined {
  return config.workers > 1 && nodeCluster.isWorker ? nodeCluster.worker?.id : undefined;
}

/** engine.io's ping interval: how long it may hold a long-poll GET before answering. */
function pingIntervalOf(io: GatewayServer): number {
  const interval = (io.engine.opts as { pingInterval?: unknown }).pingInterval;
  return typeof interval === 'number' ? interval : 25_000;
}

/**
 * INTERNAL_URL, or `http://<HOST>:<port>` with the port bound (workers: PORT, which their primary
 * binds) and, when HOST is a wildcard, this machine's host name; undefined while PORT=0 is not bound.
 */
export function internalUrlOf(
  forwarding: ForwardingConfig,
  config: Pick<GatewayConfig, 'host' | 'port'>,
  address: AddressInfo | string | null,
): string | undefined {
  if (forwarding.internalUrl !== undefined) return forwarding.internalUrl;
  const port = address !== null && typeof address === 'object' ? address.port : config.port;
  if (port === 0) return undefined;
  const wildcard = config.host === '0.0.0.0' || config.host === '::' || config.host === '';
  const host = wildcard ? hostname() : config.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}
