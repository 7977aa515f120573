import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { sleep } from './measure.js';

/*
 * Debian's nginx as the load balancer of the multi-node scenarios, pinned with the servers, configured
 * with one `server { ... }` block the scenario writes (upstreams included). Missing nginx skips the
 * scenario with a note rather than failing the run.
 */

export const NGINX_BIN = '/usr/sbin/nginx';

export interface BenchNginx {
  url: string;
  port: number;
  stop(): Promise<void>;
}

export function nginxMissing(): string | undefined {
  return fs.existsSync(NGINX_BIN) ? undefined : `${NGINX_BIN} is not installed (Debian's nginx package)`;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Runs nginx with `http` holding everything inside the `http { }` block; `${LISTEN}` is replaced by its address. */
export async function startBenchNginx(
  options: { logDir: string; name: string; core: string | undefined; workerConnections: number },
  http: string,
): Promise<BenchNginx> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(options.logDir, `${options.name}-`));
  const conf = [
    'daemon off;',
    'master_process off;',
    'worker_processes 1;',
    `worker_rlimit_nofile ${options.workerConnections * 2 + 64};`,
    `pid ${path.join(dir, 'nginx.pid')};`,
    `error_log ${path.join(dir, 'error.log')} warn;`,
    `events { worker_connections ${options.workerConnections}; }`,
    'http {',
    '  access_log off;',
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(
      (kind) => `  ${kind}_temp_path ${path.join(dir, kind)};`,
    ),
    http.replaceAll('${LISTEN}', `127.0.0.1:${port}`),
    '}',
    '',
  ].join('\n');
  fs.writeFileSync(path.join(dir, 'nginx.conf'), conf);
  const args = ['-p', dir, '-c', path.join(dir, 'nginx.conf')];
  const [command, argv] = options.core ? ['taskset', ['-c', options.core, NGINX_BIN, ...args]] : [NGINX_BIN, args];
  const child = spawn(command, argv, { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) {
      const log = fs.existsSync(path.join(dir, 'error.log'))
        ? fs.readFileSync(path.join(dir, 'error.log'), 'utf8')
        : '';
      throw new Error(`nginx exited: ${log}`);
    }
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error('nginx did not listen within 15 s');
    }
    await sleep(50);
  }
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/**
 * The proxy settings of a Socket.IO location (long-polls held 25 s, WebSocket upgrades passed on). Not
 * retried on 503: a busy gateway's 503 OVERLOADED is for the client, and nginx's max_fails would count it.
 */
export const SOCKET_IO_PROXY = `
    proxy_http_version 1.1;
    proxy_set_header Upgrade $http_upgrade;
    proxy_set_header Connection $bench_connection;
    proxy_set_header Host $host;
    proxy_read_timeout 60s;
    proxy_buffering off;
    proxy_next_upstream error timeout http_502;
    proxy_connect_timeout 2s;`;

export const CONNECTION_MAP = `
  map $http_upgrade $bench_connection {
    default upgrade;
    ''      '';
  }`;
