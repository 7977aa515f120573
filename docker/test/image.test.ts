import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ChatReader, sendUntilStored } from '../../packages/gateway/test/e2e/chat-reader.js';
import {
  clientOn,
  closeSockets,
  E2E_DEADLINE_MS,
  freePort,
  type Nginx,
  NGINX_TEMPLATES,
  nodeOf,
  startNginx,
  statusOf,
  stopEverything,
  transportOf,
  waitFor,
} from '@switchyard/testkit';

/*
 * The Docker image as operators run it: two gateway containers (host networking) in MongoDB mode on
 * the MongoDB stand-in, behind Debian's nginx with docker/nginx/switchyard.conf.template. Clients
 * on both containers chat over WebSocket and over long-polling; SIGTERM to one container drains it,
 * its clients move to the other through nginx, and it exits 0.
 *
 * Run by .ci/docker-image after it built the image: SWITCHYARD_IMAGE names it.
 */

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const IMAGE = process.env.SWITCHYARD_IMAGE ?? 'switchyard:ci';
const DRAIN_TIMEOUT_MS = 5000;
const NODES = ['gw1', 'gw2'] as const;
type NodeId = (typeof NODES)[number];

interface Container {
  readonly nodeId: NodeId;
  readonly id: string;
  readonly port: number;
  readonly url: string;
}

const containers = new Map<NodeId, Container>();
let standIn: ChildProcess | undefined;
let balancer: Nginx;

async function docker(...args: string[]): Promise<string> {
  const { stdout } = await run('docker', args, { maxBuffer: 16 * 1024 * 1024 });
  return stdout.trim();
}

/** The stand-in as its own process on the host, as operators would run a database beside the containers. */
async function startStandIn(): Promise<string> {
  const child = spawn(
    process.execPath,
    ['--conditions=@switchyard/source', '--import', 'tsx', 'packages/mongo-standin/src/main.ts', '--port', '0'],
    { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  standIn = child;
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split('\n')[0];
      if (out.includes('\n') && line) resolve((JSON.parse(line) as { uri: string }).uri);
    });
    child.once('exit', (code) => reject(new Error(`the stand-in exited with ${code}`)));
  });
}

async function startContainer(nodeId: NodeId, mongoUri: string): Promise<Container> {
  const port = await freePort();
  const env = {
    HOST: '127.0.0.1',
    PORT: String(port),
    NODE_ID: nodeId,
    MONGODB_URI: mongoUri,
    MONGODB_DB: 'docker-image-test',
    LOG_LEVEL: 'warn',
    DRAIN_TIMEOUT_MS: String(DRAIN_TIMEOUT_MS),
    ADAPTER_HEARTBEAT_INTERVAL_MS: '500',
    ADAPTER_HEARTBEAT_TIMEOUT_MS: '3000',
  };
  const id = await docker(
    'run',
    '--detach',
    '--network',
    'host',
    '--name',
    `switchyard-test-${nodeId}-${randomUUID().slice(0, 8)}`,
    ...Object.entries(env).flatMap(([name, value]) => ['--env', `${name}=${value}`]),
    IMAGE,
  );
  const container = { nodeId, id, port, url: `http://127.0.0.1:${port}` };
  containers.set(nodeId, container);
  return container;
}

async function healthOf(container: Container): Promise<string> {
  return docker('inspect', '--format', '{{.State.Health.Status}}', container.id);
}

async function logsOf(container: Container): Promise<string> {
  const { stdout, stderr } = await run('docker', ['logs', '--tail', '50', container.id]).catch(() => ({
    stdout: '',
    stderr: '(no logs)',
  }));
  return `${stdout}${stderr}`;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

beforeAll(async () => {
  await docker('image', 'inspect', IMAGE);
  const mongoUri = await startStandIn();
  // Both at once, each timed from its own `docker run`.
  const timings = await Promise.all(
    NODES.map(async (nodeId) => {
      const started = performance.now();
      const container = await startContainer(nodeId, mongoUri);
      await waitFor(`${nodeId} to be ready`, async () => (await statusOf(`${container.url}/readyz`)) === 200, {
        timeoutMs: 60_000,
        intervalMs: 100,
      }).catch(async (error: unknown) => {
        throw new Error(`${String(error)}\n--- ${nodeId} logs ---\n${await logsOf(container)}`);
      });
      const ready = performance.now() - started;
      // Docker's own verdict, from the image's HEALTHCHECK (its first probe runs one interval, 10 s, after start).
      await waitFor(`${nodeId} to be healthy`, async () => (await healthOf(container)) === 'healthy', {
        timeoutMs: 60_000,
        intervalMs: 250,
      });
      return `${nodeId} ready (/readyz 200, change stream open) ${seconds(ready)} and healthy ${seconds(performance.now() - started)} after docker run`;
    }),
  );
  console.log(`docker: ${IMAGE}: ${timings.join('; ')}`);
  // The template names three nodes; the second container stands in for the third (no session ends in .gw3).
  const [gw1, gw2] = NODES.map((nodeId) => containers.get(nodeId) as Container);
  balancer = await startNginx(NGINX_TEMPLATES.sticky, [gw1, gw2, gw2] as Container[]);
}, 180_000);

afterAll(async () => {
  closeSockets();
  const ids = [...containers.values()].map((container) => container.id);
  if (ids.length > 0) await docker('rm', '--force', ...ids).catch(() => undefined);
  await stopEverything();
  standIn?.kill('SIGTERM');
}, 60_000);

afterEach(closeSockets);

async function reader(nodeId: NodeId, transport: 'websocket' | 'polling', room: string): Promise<ChatReader> {
  const name = `${nodeId}-${transport}`;
  const socket = await clientOn(balancer.url, nodeId, { transports: [transport], auth: { name, userId: name } });
  return new ChatReader(socket, room).ready();
}

/** Sends one message from `from` and waits until every reader holds it. */
async function chat(from: ChatReader, readers: readonly ChatReader[], text: string): Promise<void> {
  const message = await sendUntilStored(from, text, randomUUID());
  for (const each of readers) {
    await waitFor(
      `${each.socket.auth && JSON.stringify(each.socket.auth)} to get ${text}`,
      () => each.messages.has(message.id),
      { timeoutMs: E2E_DEADLINE_MS },
    );
  }
}

describe('the Docker image', () => {
  it('serves the demo page and both SDK bundles from its own dependencies', async () => {
    for (const path of ['/', '/demo/app.js', '/sdk/switchyard.js', '/sdk/subscribe.js']) {
      const response = await fetch(`${balancer.url}${path}`);
      expect({ path, status: response.status }).toEqual({ path, status: 200 });
      expect((await response.arrayBuffer()).byteLength).toBeGreaterThan(100);
    }
  });

  it('runs as the unprivileged node user', async () => {
    const gw1 = containers.get('gw1') as Container;
    expect(await docker('exec', gw1.id, 'id', '-u')).toBe('1000');
  });

  it('lets clients on different containers chat over WebSocket and over long-polling', async () => {
    const room = `docker-${randomUUID().slice(0, 8)}`;
    const readers = [
      await reader('gw1', 'websocket', room),
      await reader('gw2', 'polling', room),
      await reader('gw1', 'polling', room),
      await reader('gw2', 'websocket', room),
    ];
    expect(readers.map((each) => [nodeOf(each.socket), transportOf(each.socket)])).toEqual([
      ['gw1', 'websocket'],
      ['gw2', 'polling'],
      ['gw1', 'polling'],
      ['gw2', 'websocket'],
    ]);
    for (const [index, from] of readers.entries())
      await chat(from, readers, `hello ${index} from ${nodeOf(from.socket)}`);
    for (const each of readers) expect(each.duplicateDeliveries()).toEqual([]);
  });

  it('drains a container on SIGTERM: its clients move to the other one and it exits 0', async () => {
    const room = `docker-drain-${randomUUID().slice(0, 8)}`;
    const leaving = [await reader('gw1', 'websocket', room), await reader('gw1', 'polling', room)];
    const staying = await reader('gw2', 'websocket', room);
    const told: string[] = [];
    for (const each of leaving) each.socket.on('server:shutdown', (notice) => told.push(notice.reason));
    const gw1 = containers.get('gw1') as Container;

    const stopped = performance.now();
    await docker('kill', '--signal', 'SIGTERM', gw1.id);
    const exitCode = Number(await docker('wait', gw1.id));
    const drained = performance.now() - stopped;
    console.log(
      `docker: gw1 exited with ${exitCode} ${seconds(drained)} after SIGTERM (DRAIN_TIMEOUT_MS ${DRAIN_TIMEOUT_MS})`,
    );
    // The gateway's own backstop exits 1 once DRAIN_TIMEOUT_MS (+1 s) is over: 0 means it drained in time.
    expect(exitCode, await logsOf(gw1)).toBe(0);
    expect(told).toEqual(['draining', 'draining']);

    for (const each of leaving) {
      await waitFor('a client of gw1 to be back on gw2', () => each.socket.connected && nodeOf(each.socket) === 'gw2', {
        timeoutMs: E2E_DEADLINE_MS,
      });
    }
    await chat(leaving[0] as ChatReader, [...leaving, staying], 'after the move, over websocket');
    await chat(leaving[1] as ChatReader, [...leaving, staying], 'after the move, over polling');
    await chat(staying, [...leaving, staying], 'from the node that stayed');
    expect(transportOf(leaving[1]?.socket as ChatReader['socket'])).toBe('polling');
  });
});
