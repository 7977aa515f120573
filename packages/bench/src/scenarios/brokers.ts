import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { ChildHandle } from '../harness/child-process.js';
import type { StandInCommands } from '../harness/ipc.js';
import type { StandInCounters } from '@switchyard/mongo-standin';
import { sleep } from '../harness/measure.js';
import { benchSource } from '../harness/paths.js';
import type { ScenarioContext } from './types.js';

/** What carries messages between nodes: Redis or the MongoDB stand-in. Its CPU counts in the cost per delivery. */
export interface Broker {
  url: string;
  /** CPU used so far, in microseconds. */
  cpuMicros(): Promise<number>;
  /** Insert commands received so far (MongoDB brokers only). */
  inserts?(): Promise<number>;
  /** Everything the stand-in counts (MongoDB stand-in only). */
  counters?(): Promise<StandInCounters>;
  stop(): Promise<void>;
}

function onPath(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/**
 * Makes sure `redis-server` is installed, installing Debian's package when running as root (full runs
 * only). Returns why it is unavailable, or undefined when it is there.
 */
export function ensureRedisServer(log: (message: string) => void): string | undefined {
  if (onPath('redis-server')) return undefined;
  if (process.getuid?.() !== 0)
    return 'redis-server is not installed and the benchmark is not running as root to install it';
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () =>
    spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'redis-server'], {
      stdio: 'ignore',
      env,
      timeout: 300_000,
    }).status === 0;
  log('installing redis-server (apt-get)');
  if (!install()) {
    spawnSync('apt-get', ['update'], { stdio: 'ignore', env, timeout: 300_000 });
    install();
  }
  if (!onPath('redis-server')) return '`apt-get install redis-server` failed on this machine';
  // Debian's package may start its own daemon on 6379; the benchmark runs its own servers, so stop that one.
  spawnSync('invoke-rc.d', ['redis-server', 'stop'], { stdio: 'ignore', timeout: 30_000 });
  return undefined;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await sleep(50);
  }
  throw new Error(`nothing listening on port ${port} after ${timeoutMs} ms`);
}

/** CPU of any process from /proc (user + system), in microseconds. */
function procCpuMicros(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start at field 3; utime and stime are 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks / 100) * 1e6;
}

/** A throwaway `redis-server` on a free loopback port, no persistence, pinned with the servers. */
export async function startRedis(context: ScenarioContext): Promise<Broker> {
  const port = await freePort();
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--protected-mode',
    'no',
  ];
  const [command, argv] = context.cores.server
    ? ['taskset', ['-c', context.cores.server, 'redis-server', ...args]]
    : ['redis-server', args];
  const child = spawn(command, argv, { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await waitForPort(port, 10_000);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    cpuMicros: async () => procCpuMicros(child.pid!),
    stop: async () => {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The project's MongoDB stand-in in a child process of its own. */
export async function startStandIn(context: ScenarioContext): Promise<Broker> {
  const child = await ChildHandle.start<StandInCommands>({
    name: 'mongo-standin',
    entry: benchSource('servers/mongo-standin-server.ts'),
    core: context.cores.server,
    logDir: context.logDir,
  });
  const uri = child.info.uri;
  if (typeof uri !== 'string') throw new Error('the stand-in did not report its uri');
  return {
    url: uri,
    cpuMicros: async () => (await child.call('cpu')).cpuMicros,
    inserts: async () => (await child.call('counters')).commandsByName.insert ?? 0,
    counters: () => child.call('counters'),
    stop: () => child.stop(),
  };
}
