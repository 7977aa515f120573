import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { statusOf } from './http.js';
import { freePort, REPO, trackChild, trackTempDir } from './nodes.js';
import { INSTALL_SYSTEM_PACKAGES, requireExecutable } from './system-binary.js';
import { waitFor } from './wait-for.js';

/*
 * Debian's nginx in front of gateway nodes, configured from the repository's own templates
 * (docker/nginx/), as production would be.
 */

export const NGINX_BIN = '/usr/sbin/nginx';
export const NGINX_TEMPLATES = {
  sticky: join(REPO, 'docker/nginx/switchyard.conf.template'),
  websocketBreaking: join(REPO, 'docker/nginx/websocket-breaking.conf.template'),
  /** No stickiness at all: the nodes forward what is not theirs (CLUSTER_SECRET). */
  roundRobin: join(REPO, 'docker/nginx/round-robin.conf.template'),
  websocketBreakingRoundRobin: join(REPO, 'docker/nginx/websocket-breaking-round-robin.conf.template'),
} as const;

export interface NginxOptions {
  /** The nginx binary; default NGINX_BIN. */
  bin?: string;
  /** nginx `worker_connections` (each proxied client takes two); default 1024. */
  workerConnections?: number;
}

export interface Nginx {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

/**
 * Renders a repository nginx template for these nodes and runs nginx on a free port. Fails with
 * what to install when the nginx binary (`bin`, default NGINX_BIN) cannot be run.
 */
export async function startNginx(
  template: string,
  nodes: readonly { port: number }[],
  options: NginxOptions = {},
): Promise<Nginx> {
  const { bin = NGINX_BIN, workerConnections = 1024 } = options;
  requireExecutable({ what: "Debian's nginx", path: bin, install: INSTALL_SYSTEM_PACKAGES });
  const port = await freePort();
  const dir = trackTempDir(mkdtempSync(join(tmpdir(), 'switchyard-nginx-')));
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
      `worker_rlimit_nofile ${workerConnections * 2 + 64};`,
      `pid ${join(dir, 'nginx.pid')};`,
      'error_log stderr warn;',
      `events { worker_connections ${workerConnections}; }`,
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
  const child = spawn(bin, ['-e', 'stderr', '-p', dir, '-c', join(dir, 'nginx.conf')], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: false,
  });
  const exited = trackChild(child);
  // A spawn failure (the binary vanished, a permission) ends the wait below with its message.
  child.once('error', (error) => output.push(`could not run ${bin}: ${error.message}\n`));
  child.stdout?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    'nginx to listen',
    async () => {
      if (child.exitCode !== null || child.pid === undefined) throw new Error(`nginx exited: ${output.join('')}`);
      return (await statusOf(`${url}/healthz`)) !== 'refused';
    },
    { timeoutMs: 30_000, intervalMs: 50 },
  ).catch((error: unknown) => {
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
