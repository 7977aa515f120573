import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { io as ioClient, type ManagerOptions, type SocketOptions } from 'socket.io-client';
import { nodeOfSessionId } from '../../src/cluster/session-id.js';
import type { TestSocket } from '../helpers.js';

/*
 * Real processes for end-to-end tests: gateway nodes as `node --import tsx src/main.ts` children,
 * nginx from the repository's templates. Everything started here is tracked and killed by
 * `stopEverything()` (afterAll) and, as a last resort, when the test process exits.
 */

export const E2E_DEADLINE_MS = 30_000;
const REPO = fileURLToPath(new URL('../../../../', import.meta.url));
const MAIN = join(REPO, 'packages/gateway/src/main.ts');
export const NGINX_BIN = '/usr/sbin/nginx';
export const NGINX_TEMPLATES = {
  sticky: join(REPO, 'docker/nginx/switchyard.conf.template'),
  websocketBreaking: join(REPO, 'docker/nginx/websocket-breaking.conf.template'),
} as const;

const children = new Set<ChildProcess>();
const sockets = new Set<TestSocket>();
const tempDirs = new Set<string>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export async function waitUntil<T>(
  what: string,
  check: () => T | Promise<T>,
  deadlineMs = E2E_DEADLINE_MS,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${lastError ? ` (last error: ${String(lastError)})` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

export async function statusOf(url: string): Promise<number | 'refused'> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return 'refused';
  }
}

export interface GatewayNode {
  readonly nodeId: string;
  readonly port: number;
  readonly url: string;
  readonly env: Record<string, string>;
  child: ChildProcess;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  /** Recent output, for failure messages. */
  output(): string;
}

/** Spawns a gateway node (on `port`, or a free one) and waits for `/readyz` (unless `ready: false`). */
export async function startNode(
  nodeId: string,
  env: Record<string, string>,
  options: { port?: number; ready?: boolean; deadlineMs?: number } = {},
): Promise<GatewayNode> {
  const port = options.port ?? (await freePort());
  const fullEnv = { HOST: '127.0.0.1', PORT: String(port), NODE_ID: nodeId, LOG_LEVEL: 'warn', ...env };
  const lines: string[] = [];
  const child = spawn(process.execPath, ['--conditions=@switchyard/source', '--import', 'tsx', MAIN], {
    cwd: REPO,
    env: { ...process.env, ...fullEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: false,
  });
  children.add(child);
  const keep = (chunk: Buffer): void => {
    lines.push(chunk.toString());
    if (lines.length > 200) lines.splice(0, lines.length - 200);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      children.delete(child);
      resolve(code);
    }),
  );
  const node: GatewayNode = {
    nodeId,
    port,
    url: `http://127.0.0.1:${port}`,
    env: fullEnv,
    child,
    exited,
    output: () => lines.join(''),
  };
  if (options.ready !== false) {
    let gone = false;
    void exited.then(() => (gone = true));
    await waitUntil(
      `${nodeId} to be ready`,
      async () => {
        if (gone) throw new Error(`${nodeId} exited:\n${node.output()}`);
        return (await statusOf(`${node.url}/readyz`)) === 200;
      },
      options.deadlineMs ?? 60_000,
      100,
    ).catch((error: unknown) => {
      throw new Error(`${String(error)}\n--- ${nodeId} output ---\n${node.output()}`);
    });
  }
  return node;
}

export async function stopNode(node: GatewayNode, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (node.child.exitCode === null && node.child.signalCode === null) node.child.kill(signal);
  return node.exited;
}

export interface Nginx {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

/** Renders a repository nginx template for these nodes and runs Debian's nginx on a free port. */
export async function startNginx(template: string, nodes: readonly { port: number }[]): Promise<Nginx> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-nginx-'));
  tempDirs.add(dir);
  const upstreams: Record<string, string> = { LISTEN: `127.0.0.1:${port}` };
  nodes.forEach((node, index) => (upstreams[`GW${index + 1}`] = `127.0.0.1:${node.port}`));
  const server = readFileSync(template, 'utf8').replace(
    /\$\{([A-Z0-9]+)\}/g,
    (whole, name: string) => upstreams[name] ?? whole,
  );
  writeFileSync(join(dir, 'switchyard.conf'), server);
  writeFileSync(
    join(dir, 'nginx.conf'),
    [
      'daemon off;',
      'master_process off;',
      'worker_processes 1;',
      `pid ${join(dir, 'nginx.pid')};`,
      'error_log stderr warn;',
      'events { worker_connections 1024; }',
      'http {',
      '  access_log off;',
      `  client_body_temp_path ${join(dir, 'body')};`,
      `  proxy_temp_path ${join(dir, 'proxy')};`,
      `  fastcgi_temp_path ${join(dir, 'fastcgi')};`,
      `  uwsgi_temp_path ${join(dir, 'uwsgi')};`,
      `  scgi_temp_path ${join(dir, 'scgi')};`,
      `  include ${join(dir, 'switchyard.conf')};`,
      '}',
      '',
    ].join('\n'),
  );
  const output: string[] = [];
  const child = spawn(NGINX_BIN, ['-e', 'stderr', '-p', dir, '-c', join(dir, 'nginx.conf')], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: false,
  });
  children.add(child);
  child.stdout?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      children.delete(child);
      resolve();
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  await waitUntil('nginx to listen', async () => {
    if (child.exitCode !== null) throw new Error(`nginx exited: ${output.join('')}`);
    return (await statusOf(`${url}/healthz`)) !== 'refused';
  }).catch((error: unknown) => {
    throw new Error(`${String(error)}\n--- nginx output ---\n${output.join('')}`);
  });
  return {
    url,
    port,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

export interface ClientOptions {
  transports?: ('polling' | 'websocket')[];
  auth?: Record<string, unknown>;
  reconnection?: boolean;
  /** Only these socket.io-client options; everything else is left at its default. */
  defaults?: boolean;
}

/** A socket.io-client socket, tracked for cleanup. `defaults: true` passes no option but `auth`. */
export function clientTo(url: string, options: ClientOptions = {}): TestSocket {
  const opts: Partial<ManagerOptions & SocketOptions> = options.defaults
    ? { forceNew: true, ...(options.auth ? { auth: options.auth } : {}) }
    : {
        forceNew: true,
        reconnectionDelay: 100,
        reconnectionDelayMax: 1000,
        timeout: 10_000,
        reconnection: options.reconnection ?? true,
        ...(options.transports ? { transports: options.transports } : {}),
        ...(options.auth ? { auth: options.auth } : {}),
      };
  const socket: TestSocket = ioClient(url, opts);
  sockets.add(socket);
  socket.io.on('open', () =>
    socket.io.engine.on('upgradeError', () => upgradeErrors.set(socket, (upgradeErrors.get(socket) ?? 0) + 1)),
  );
  return socket;
}

const upgradeErrors = new WeakMap<TestSocket, number>();

/** How many times this socket's WebSocket upgrade probe failed. */
export function upgradeErrorsOf(socket: TestSocket): number {
  return upgradeErrors.get(socket) ?? 0;
}

/** The node that serves a connected socket, read from its Engine.IO session id. */
export function nodeOf(socket: TestSocket): string | undefined {
  const id = socket.io.engine?.id;
  return id ? nodeOfSessionId(id) : undefined;
}

export async function connectedSocket(socket: TestSocket): Promise<TestSocket> {
  await waitUntil('the socket to connect', () => socket.connected, E2E_DEADLINE_MS, 20);
  return socket;
}

/**
 * Connects through the balancer until the session lands on `nodeId` (the balancer spreads
 * handshakes round robin, so a few tries are enough).
 */
export async function clientOn(balancerUrl: string, nodeId: string, options: ClientOptions = {}): Promise<TestSocket> {
  for (let attempt = 0; attempt < 60; attempt += 1) {
    const socket = await connectedSocket(clientTo(balancerUrl, options));
    if (nodeOf(socket) === nodeId) return socket;
    socket.disconnect();
    sockets.delete(socket);
    // Other traffic shares the round robin: a little jitter keeps us from falling in step with it.
    await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 30)));
  }
  throw new Error(`no session landed on ${nodeId}`);
}

export function closeSockets(): void {
  for (const socket of sockets) socket.disconnect();
  sockets.clear();
}

export async function stopEverything(): Promise<void> {
  closeSockets();
  const waits = [...children].map(
    (child) =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  );
  await Promise.all(waits);
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

/** The Engine.IO transport a connected socket uses now. */
export function transportOf(socket: TestSocket): string | undefined {
  return socket.io.engine?.transport?.name;
}
