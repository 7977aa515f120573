import cluster, { type Worker } from 'node:cluster';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { setupMaster as setupStickyPrimary } from '@socket.io/sticky';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/*
 * Pins cluster/sticky-shim.ts: @socket.io/sticky's real primary, in this process, with two real
 * node:cluster workers. A worker announces a session key through the shim; every request carrying
 * that key must then reach it, and none once it is withdrawn. On a version of @socket.io/sticky
 * whose primary no longer binds sessions by these messages, requests fall back to its load
 * balancing and this test fails.
 */

const WORKER = fileURLToPath(new URL('./fixtures/sticky-worker.ts', import.meta.url));
const KEY = 'AbCdEfGhIjKlMnOpQrSt'; // 20 characters: what the primary routes by

let server: Server;
let url: string;
const workers: Worker[] = [];

function next(worker: Worker, type: string): Promise<void> {
  return new Promise((resolve) => {
    const onMessage = (message: { type?: string }): void => {
      if (message?.type !== type) return;
      worker.off('message', onMessage);
      resolve();
    };
    worker.on('message', onMessage);
  });
}

beforeAll(async () => {
  server = createServer();
  // Round robin: without a binding, consecutive requests alternate between the workers.
  setupStickyPrimary(server, { loadBalancingMethod: 'round-robin' });
  // As cluster/workers.ts does: the first chunk of a request crosses the IPC channel as a Buffer.
  cluster.setupPrimary({
    exec: WORKER,
    execArgv: ['--conditions=@switchyard/source', '--import', 'tsx'],
    serialization: 'advanced',
  });
  for (let i = 0; i < 2; i += 1) {
    const worker = cluster.fork();
    workers.push(worker);
    await next(worker, 'ready');
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}, 60_000);

afterAll(async () => {
  const exits = workers.map((worker) => new Promise<void>((resolve) => worker.process.once('exit', () => resolve())));
  for (const worker of workers) worker.process.kill('SIGKILL');
  await Promise.all(exits);
  // Connections handed over to a worker still count in this process: stop listening, do not wait for them.
  server.close();
});

async function workerAnswering(path: string): Promise<string> {
  const response = await fetch(`${url}${path}`);
  return response.text();
}

async function ask(worker: Worker, type: 'announce' | 'withdraw'): Promise<void> {
  const done = next(worker, 'done');
  worker.send({ type, key: KEY });
  await done;
}

describe('the @socket.io/sticky shim', () => {
  it('routes every request of an announced session to the worker that announced it, until withdrawn', async () => {
    const owner = workers[1] as Worker;
    await ask(owner, 'announce');
    const answers = [];
    for (let i = 0; i < 6; i += 1)
      answers.push(await workerAnswering(`/poll?EIO=4&transport=polling&sid=${KEY}.gw1.w${owner.id}`));
    expect(answers).toEqual(Array(6).fill(String(owner.id)));

    await ask(owner, 'withdraw');
    const spread = new Set<string>();
    for (let i = 0; i < 6; i += 1)
      spread.add(await workerAnswering(`/poll?EIO=4&transport=polling&sid=${KEY}.gw1.w${owner.id}`));
    expect([...spread].sort()).toEqual(workers.map((worker) => String(worker.id)).sort());
  });
});
