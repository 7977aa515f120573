import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { gatewayLoggerOptions, loadConfig } from '../src/index.js';
import { closeAll, JWT_SECRET, startGateway } from '@switchyard/testkit';

/*
 * Start-up as a new user meets it: a safe default interface, a loud warning when anonymous chat is
 * reachable from the network, and a readable error (no stack trace) when the port is taken.
 */

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const children: ChildProcess[] = [];
const servers: Server[] = [];
afterEach(async () => {
  for (const child of children.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const server of servers.splice(0)) server.close();
  await closeAll();
});

function run(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--conditions=@switchyard/source', '--import', 'tsx', MAIN], {
    cwd: REPO,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const output = { stdout: '', stderr: '' };
  child.stdout.on('data', (chunk: Buffer) => (output.stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output.stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { output, exited };
}

async function takenPort(): Promise<number> {
  const server = createServer();
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

function captureWarnings() {
  const lines: { level: number; msg: string }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) lines.push(JSON.parse(line));
      done();
    },
  });
  return {
    warnings: () => lines.filter((line) => line.level === 40),
    logger: pino(gatewayLoggerOptions('info'), stream),
  };
}

describe('where the gateway listens', () => {
  it('binds this machine only by default', () => {
    expect(loadConfig({}).host).toBe('127.0.0.1');
  });

  it('warns when anonymous chat is reachable from the network', async () => {
    const { warnings, logger } = captureWarnings();
    await startGateway({ HOST: '0.0.0.0' }, { logger });
    expect(warnings()).toEqual([
      expect.objectContaining({
        msg: expect.stringMatching(/^anonymous auth on HOST=0\.0\.0\.0: anyone who can reach/),
      }),
    ]);
  });

  it('does not warn on loopback, or with JWT auth on every interface', async () => {
    const { warnings, logger } = captureWarnings();
    await startGateway({ HOST: '127.0.0.1' }, { logger });
    await startGateway({ HOST: '0.0.0.0', AUTH_MODE: 'jwt', JWT_SECRET }, { logger });
    expect(warnings()).toEqual([]);
  });
});

describe('a port already in use', () => {
  it('exits 1 with what to change, in the shape of a configuration error, and no stack trace', async () => {
    const port = await takenPort();
    const { output, exited } = run({ PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn' });
    expect(await exited).toBe(1);
    expect(output.stderr).toBe(
      `switchyard: cannot listen on 127.0.0.1:${port} (EADDRINUSE):\n` +
        `  - PORT: ${port} is already in use on 127.0.0.1: stop what uses it, or set PORT to a free port (0 picks one)\n`,
    );
  });

  it('the same with worker processes', async () => {
    const port = await takenPort();
    const { output, exited } = run({ PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', GATEWAY_WORKERS: '2' });
    expect(await exited).toBe(1);
    expect(output.stderr).toContain(`switchyard: cannot listen on 127.0.0.1:${port} (EADDRINUSE):`);
    expect(output.stderr).not.toMatch(/\n\s+at /);
  });
});
