#!/usr/bin/env node
import cluster from 'node:cluster';
import { ConfigError, formatProblem, type GatewayConfig, loadConfig } from './config.js';
import { serveAsWorker, startPrimary, workerAdapter } from './cluster/workers.js';
import { createGateway } from './gateway.js';
import { componentLogger, nodeLogger } from './logging.js';
import { describeListenError, exposureWarning } from './startup.js';

/*
 * The `switchyard` command: environment → validated config → gateway → listen.
 * With GATEWAY_WORKERS > 1 this process becomes the primary of N workers (see cluster/workers.ts).
 * SIGTERM/SIGINT drain the gateway; the process exits within DRAIN_TIMEOUT_MS whatever happens.
 */

function readConfig(): GatewayConfig {
  try {
    return loadConfig(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`switchyard: invalid configuration (${error.code}):\n`);
    for (const problem of error.problems) process.stderr.write(`  - ${formatProblem(problem)}\n`);
    process.exit(1);
  }
}

const config = readConfig();

/** Runs `start`; a listen failure the configuration can fix exits 1 with what to change, like a bad variable. */
async function listening<T>(start: () => Promise<T>): Promise<T> {
  try {
    return await start();
  } catch (error) {
    const described = describeListenError(error, config);
    if (described === undefined) throw error;
    process.stderr.write(described);
    process.exit(1);
  }
}

/** Runs `stop` once on the first signal; a second signal, or a stop longer than the drain timeout, exits at once. */
function onSignals(
  stop: () => Promise<void>,
  log: Log,
  signals: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT'],
): void {
  let stopping = false;
  const shutdown = (signal: NodeJS.Signals): void => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal, drainTimeoutMs: config.drainTimeoutMs }, 'shutting down');
    // close() waits at most 80% of the timeout for clients; this is the backstop if stopping hangs.
    setTimeout(() => {
      log.error({}, 'drain timeout: exiting');
      process.exit(1);
    }, config.drainTimeoutMs + 1000).unref();
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  for (const signal of signals) process.once(signal, shutdown);
}

interface Log {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

if (config.workers > 1 && cluster.isPrimary) {
  const log = componentLogger(nodeLogger(config.nodeId, config.logLevel), 'workers').child({ role: 'primary' });
  const workers = await listening(() => startPrimary(config, log));
  const warning = exposureWarning(config);
  if (warning !== undefined) log.warn({ host: config.host }, warning);
  onSignals(() => workers.stop(), log);
} else if (cluster.isWorker) {
  const adapter = workerAdapter(config);
  const gateway = await createGateway(config, adapter === undefined ? {} : { adapter });
  await serveAsWorker(
    { io: gateway.io, ready: () => gateway.app.ready() },
    config,
    componentLogger(gateway.log, 'workers'),
  );
  // Ctrl-C reaches the whole process group: the primary relays it as SIGTERM, once.
  process.on('SIGINT', () => undefined);
  onSignals(() => gateway.close(), gateway.log, ['SIGTERM']);
} else {
  const gateway = await createGateway(config);
  const { url } = await listening(() => gateway.listen());
  gateway.log.info(
    { url, authMode: config.auth.mode, transports: config.transports, mongodb: config.mongo !== undefined },
    `switchyard listening on ${url}`,
  );
  onSignals(() => gateway.close(), gateway.log);
}
