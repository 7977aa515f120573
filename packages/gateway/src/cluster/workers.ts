import cluster from 'node:cluster';
import { createServer } from 'node:http';
import { setupPrimary as setupClusterAdapterPrimary } from '@socket.io/cluster-adapter';
import { setupMaster as setupStickyPrimary, setupWorker as setupStickyWorker } from '@socket.io/sticky';
import type { Logger } from 'pino';
import { createObservedClusterAdapter } from '../adapters/node-cluster.js';
import type { GatewayConfig } from '../config.js';
import type { GatewayServer } from '../types.js';
import type { AdapterConstructor } from './cluster.js';
import { stickyKeyOf, useNodeSessionIds } from './session-id.js';
import { announceStickyKey, withdrawStickyKey } from './sticky-shim.js';

/*
 * GATEWAY_WORKERS=N: one machine, N cores. The primary owns the listening socket and hands each
 * incoming TCP connection to a worker with @socket.io/sticky, which routes every request of an
 * Engine.IO session (long-polling included) to the worker that created it. Between workers:
 * @socket.io/cluster-adapter over the IPC channel — unless MongoDB is configured, in which case each
 * worker is simply one more node of the MongoDB cluster.
 */

const WORKER_READY = 'switchyard:worker-ready';

export interface RunningWorkers {
  stop(): Promise<void>;
}

/** In the primary: listen, fork the workers, re-fork the ones that crash, stop them all on `stop()`. */
export async function startPrimary(config: GatewayConfig, log: Logger): Promise<RunningWorkers> {
  const server = createServer();
  setupStickyPrimary(server, { loadBalancingMethod: 'least-connection' });
  if (config.mongo === undefined) setupClusterAdapterPrimary();
  // Binary packets cross the IPC channel between workers.
  cluster.setupPrimary({ serialization: 'advanced' });

  let stopping = false;
  const fork = (): void => {
    cluster.fork();
  };
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    log.error({ worker: worker.id, code, signal }, 'worker died: starting another');
    fork();
  });
  // Listen only once every worker can take connections: the primary hands them over blindly.
  const ready = new Promise<void>((resolve) => {
    let count = 0;
    const onMessage = (_worker: unknown, message: unknown): void => {
      if ((message as { type?: unknown } | null)?.type !== WORKER_READY) return;
      count += 1;
      if (count < config.workers) return;
      cluster.off('message', onMessage);
      resolve();
    };
    cluster.on('message', onMessage);
  });
  for (let i = 0; i < config.workers; i += 1) fork();
  await ready;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.port;
  log.info(
    { port, workers: config.workers, adapter: config.mongo ? 'mongodb' : 'cluster' },
    `switchyard primary listening on port ${port}`,
  );

  return {
    async stop() {
      stopping = true;
      server.close();
      const workers = Object.values(cluster.workers ?? {}).filter((worker) => worker !== undefined);
      await Promise.all(
        workers.map(
          (worker) =>
            new Promise<void>((resolve) => {
              if (worker.isDead()) return resolve();
              worker.once('exit', () => resolve());
              worker.process.kill('SIGTERM');
            }),
        ),
      );
    },
  };
}

/** The adapter of a worker's gateway: between workers over IPC, unless MongoDB joins them. */
export function workerAdapter(config: GatewayConfig): AdapterConstructor | undefined {
  return config.mongo === undefined ? createObservedClusterAdapter() : undefined;
}

export interface WorkerGateway {
  io: GatewayServer;
  /** Resolves once every plugin is loaded (the gateway can serve). */
  ready(): PromiseLike<unknown>;
}

/** In a worker: the gateway serves the connections the primary hands it, without listening itself. */
export async function serveAsWorker(gateway: WorkerGateway, config: GatewayConfig, log: Logger): Promise<void> {
  const { io } = gateway;
  setupStickyWorker(io);
  useNodeSessionIds(io, config.nodeId, cluster.worker?.id);
  // Register the routed part of each session too (sticky-shim.ts says why).
  io.engine.on('connection', (socket: { id: string; once(event: 'close', listener: () => void): void }) => {
    const key = stickyKeyOf(socket.id);
    announceStickyKey(key);
    socket.once('close', () => withdrawStickyKey(key));
  });
  await gateway.ready();
  process.send?.({ type: WORKER_READY });
  log.info({ worker: cluster.worker?.id }, 'worker ready');
}
