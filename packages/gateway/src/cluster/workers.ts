import cluster from 'node:cluster';
import { createServer } from 'node:http';
import { setupPrimary as setupClusterAdapterPrimary } from '@socket.io/cluster-adapter';
import { setupMaster as setupStickyPrimary, setupWorker as setupStickyWorker } from '@socket.io/sticky';
import pino from 'pino';
import type { GatewayConfig } from '../config.js';
import { createObservedClusterAdapter } from '../adapters/node-cluster.js';
import { createGateway, type Gateway, gatewayLoggerOptions } from '../gateway.js';
import { stickyKeyOf, useNodeSessionIds } from './session-id.js';

/*
 * GATEWAY_WORKERS=N: one machine, N cores. The primary owns the listening socket and hands each
 * incoming TCP connection to a worker with @socket.io/sticky, which routes every request of an
 * Engine.IO session (long-polling included) to the worker that created it. Between workers:
 * @socket.io/cluster-adapter over the IPC channel — unless MongoDB is configured, in which case each
 * worker is simply one more node of the MongoDB cluster.
 */

const WORKER_READY = 'switchyard:worker-ready';

export interface RunningWorkers {
  readonly log: pino.Logger;
  stop(): Promise<void>;
}

/** In the primary: listen, fork the workers, re-fork the ones that crash, stop them all on `stop()`. */
export async function startPrimary(config: GatewayConfig): Promise<RunningWorkers> {
  const log = pino({
    ...gatewayLoggerOptions(config.logLevel),
    base: { pid: process.pid, role: 'primary', node: config.nodeId },
  });
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
    log,
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

/** In a worker: a gateway that serves the connections the primary hands it, without listening itself. */
export async function startWorker(config: GatewayConfig): Promise<Gateway> {
  const gateway = await createGateway(
    config,
    config.mongo === undefined ? { adapter: createObservedClusterAdapter() } : {},
  );
  setupStickyWorker(gateway.io);
  useNodeSessionIds(gateway.io, config.nodeId, cluster.worker?.id);
  // @socket.io/sticky routes by the first 20 characters of a sid and registers whole sids; ours are
  // longer (they end with the node id), so register their routed part as well.
  gateway.io.engine.on('connection', (socket: { id: string; once(event: 'close', listener: () => void): void }) => {
    const key = stickyKeyOf(socket.id);
    process.send?.({ type: 'sticky:connection', data: key });
    socket.once('close', () => process.send?.({ type: 'sticky:disconnection', data: key }));
  });
  await gateway.app.ready();
  process.send?.({ type: WORKER_READY });
  gateway.app.log.info({ worker: cluster.worker?.id }, 'switchyard worker ready');
  return gateway;
}
