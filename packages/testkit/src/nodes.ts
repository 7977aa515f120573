import { type ChildProcess, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { statusOf } from './http.js';
import { closeSockets } from './sockets.js';
import { waitFor } from './wait-for.js';

/*
 * Gateway nodes as real processes (`node --import tsx packages/gateway/src/main.ts`, configured by
 * environment like production), and everything else a cluster test starts: tracked, and killed by
 * `stopEverything()` (afterAll) and, as a last resort, when the test process exits.
 */

export const E2E_DEADLINE_MS = 30_000;
export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const MAIN = `${REPO}packages/gateway/src/main.ts`;

const children = new Set<ChildProcess>();
const tempDirs = new Set<string>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

/** Tracks a process (killed by `stopEverything`) and resolves with its exit code. */
export function trackChild(child: ChildProcess): Promise<number | null> {
  children.add(child);
  return new Promise((resolve) => {
    const gone = (code: number | null): void => {
      children.delete(child);
      resolve(code);
    };
    child.once('exit', gone);
    // A process that could not be spawned at all never exits.
    child.once('error', () => child.pid === undefined && gone(null));
  });
}

/** A directory removed by `stopEverything`. */
export function trackTempDir(dir: string): string {
  tempDirs.add(dir);
  return dir;
}

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
  const exited = trackChild(child);
  const keep = (chunk: Buffer): void => {
    lines.push(chunk.toString());
    if (lines.length > 200) lines.splice(0, lines.length - 200);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
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
    await waitFor(
      `${nodeId} to be ready`,
      async () => {
        if (gone) throw new Error(`${nodeId} exited:\n${node.output()}`);
        return (await statusOf(`${node.url}/readyz`)) === 200;
      },
      { timeoutMs: options.deadlineMs ?? 60_000, intervalMs: 100 },
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

/** Disconnects every socket and kills every process this kit started. */
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
