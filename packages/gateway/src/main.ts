#!/usr/bin/env node
import { ConfigError, formatProblem, loadConfig } from './config.js';
import { createGateway } from './gateway.js';

/*
 * The `switchyard` command: environment → validated config → gateway → listen.
 * SIGTERM/SIGINT drain the gateway; the process exits within DRAIN_TIMEOUT_MS whatever happens.
 */

function readConfig() {
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
const gateway = await createGateway(config);
const { url } = await gateway.listen();
gateway.app.log.info({ url, authMode: config.auth.mode, transports: config.transports }, `switchyard listening on ${url}`);

let stopping = false;
function shutdown(signal: NodeJS.Signals): void {
  if (stopping) {
    gateway.app.log.warn({ signal }, 'second signal: exiting now');
    process.exit(1);
  }
  stopping = true;
  gateway.app.log.info({ signal, drainTimeoutMs: config.drainTimeoutMs }, 'shutting down');
  // close() waits at most 80% of the timeout for clients; this is the backstop if stopping hangs.
  setTimeout(() => {
    gateway.app.log.error('drain timeout: exiting');
    process.exit(1);
  }, config.drainTimeoutMs).unref();
  gateway.close().then(
    () => process.exit(0),
    (err: unknown) => {
      gateway.app.log.error({ err }, 'shutdown failed');
      process.exit(1);
    },
  );
}
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);
