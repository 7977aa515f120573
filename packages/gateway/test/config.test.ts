import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { LIMITS } from '@switchyard/protocol';
import { ConfigError, type ConfigProblem, loadConfig } from '../src/index.js';
import { DEADLINE_MS, waitFor } from '@switchyard/testkit';

function problemsOf(env: Record<string, string>): ConfigProblem[] {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).code).toBe('CONFIG_INVALID');
    return [...(error as ConfigError).problems];
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('applies documented defaults to an empty environment', () => {
    expect(loadConfig({})).toEqual({
      port: 3000,
      host: '127.0.0.1',
      corsOrigins: [],
      logLevel: 'info',
      auth: { mode: 'anonymous' },
      trustProxy: [],
      authFailures: { limit: 20, windowMs: 60_000 },
      transports: ['polling', 'websocket'],
      perMessageDeflate: false,
      maxHttpBufferSize: 100_000,
      maxMessageLength: LIMITS.messageText.maxLength,
      maxRoomsPerSocket: 50,
      maxSocketsPerUser: 0,
      rateLimit: { burst: 30, perSecond: 10 },
      historyPerRoom: 1000,
      drainTimeoutMs: 25_000,
      metrics: {},
      httpTimeouts: { requestMs: 30_000, headersMs: 10_000 },
      sse: {
        heartbeatMs: 15_000,
        retryMs: 2000,
        maxStreams: 10_000,
        maxStreamsPerClient: 0,
        bufferBytes: 256 * 1024,
        bufferEvents: 1000,
      },
      publish: { apiKeySha256: [], rateLimit: { max: 600, windowMs: 60_000 } },
      privateRoomPrefix: 'private:',
      presence: { largeRoomThreshold: 250, intervalMs: 250 },
      socketBuffer: { bytes: 1024 * 1024, packets: 1000 },
      nodeId: expect.stringMatching(/^[a-z0-9-]+-\d+$/),
      maxDisconnectionDurationMs: 0,
      workers: 1,
      admission: {
        maxHandshakes: 256,
        retryAfterSeconds: 2,
        maxJwtVerifications: 32,
        maxRestores: 32,
        restoresPerSecond: 100,
      },
    });
  });

  it('parses every variable and returns a deeply frozen config', () => {
    const config = loadConfig({
      PORT: '8080',
      HOST: '127.0.0.1',
      CORS_ORIGINS: 'https://app.example.com, http://localhost:5173/',
      LOG_LEVEL: 'silent',
      AUTH_MODE: 'jwt',
      JWT_SECRET: 's'.repeat(32),
      JWT_ISSUER: 'https://issuer.example',
      JWT_AUDIENCE: 'switchyard',
      TRANSPORTS: 'websocket',
      PER_MESSAGE_DEFLATE: 'true',
      MAX_HTTP_BUFFER_SIZE: '1e6',
      MAX_MESSAGE_LENGTH: '500',
      MAX_ROOMS_PER_SOCKET: '3',
      MAX_SOCKETS_PER_USER: '4',
      RATE_LIMIT_BURST: '5',
      RATE_LIMIT_PER_SECOND: '0.5',
      HISTORY_PER_ROOM: '20',
      DRAIN_TIMEOUT_MS: '2500',
      UNRELATED: 'ignored',
    });
    expect(config).toMatchObject({
      port: 8080,
      corsOrigins: ['https://app.example.com', 'http://localhost:5173'],
      auth: { mode: 'jwt', secret: 's'.repeat(32), issuer: 'https://issuer.example', audience: 'switchyard' },
      transports: ['websocket'],
      perMessageDeflate: true,
      maxHttpBufferSize: 1_000_000,
      rateLimit: { burst: 5, perSecond: 0.5 },
      drainTimeoutMs: 2500,
    });
    expect(config).not.toHaveProperty('UNRELATED');
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.rateLimit)).toBe(true);
    expect(Object.isFrozen(config.transports)).toBe(true);
    expect(() => (config.transports as string[]).push('carrier-pigeon')).toThrow();
  });

  it('reads the presence and socket buffer bounds, and refuses values out of range by name', () => {
    const config = loadConfig({
      LARGE_ROOM_THRESHOLD: '50',
      PRESENCE_INTERVAL_MS: '100',
      SOCKET_BUFFER_BYTES: '65536',
      SOCKET_BUFFER_PACKETS: '64',
    });
    expect(config.presence).toEqual({ largeRoomThreshold: 50, intervalMs: 100 });
    expect(config.socketBuffer).toEqual({ bytes: 65_536, packets: 64 });
    const problems = problemsOf({
      LARGE_ROOM_THRESHOLD: '0',
      PRESENCE_INTERVAL_MS: 'soon',
      SOCKET_BUFFER_BYTES: '100',
      SOCKET_BUFFER_PACKETS: '-1',
    });
    expect(problems.map((p) => p.name).sort()).toEqual([
      'LARGE_ROOM_THRESHOLD',
      'PRESENCE_INTERVAL_MS',
      'SOCKET_BUFFER_BYTES',
      'SOCKET_BUFFER_PACKETS',
    ]);
    expect(problems.find((p) => p.name === 'SOCKET_BUFFER_BYTES')?.expected).toMatch(/1024-268435456/);
  });

  it('accepts * as CORS_ORIGINS and treats empty values as unset', () => {
    expect(loadConfig({ CORS_ORIGINS: '*', PORT: '' }).corsOrigins).toEqual(['*']);
    expect(loadConfig({ PORT: '  ' }).port).toBe(3000);
  });

  it('reports every bad variable at once, by name, with what was expected and what was given', () => {
    const problems = problemsOf({
      PORT: 'eighty',
      LOG_LEVEL: 'loud',
      TRANSPORTS: 'carrier-pigeon',
      PER_MESSAGE_DEFLATE: 'maybe',
      MAX_MESSAGE_LENGTH: String(LIMITS.messageText.maxLength + 1),
      RATE_LIMIT_PER_SECOND: '0',
      CORS_ORIGINS: 'ftp://files.example',
      AUTH_MODE: 'kerberos',
    });
    expect(problems.map((p) => p.name).sort()).toEqual(
      [
        'AUTH_MODE',
        'CORS_ORIGINS',
        'LOG_LEVEL',
        'MAX_MESSAGE_LENGTH',
        'PER_MESSAGE_DEFLATE',
        'PORT',
        'RATE_LIMIT_PER_SECOND',
        'TRANSPORTS',
      ].sort(),
    );
    expect(problems.find((p) => p.name === 'PORT')).toEqual({
      name: 'PORT',
      expected: expect.stringMatching(/integer/),
      received: 'eighty',
    });
    expect(problems.find((p) => p.name === 'LOG_LEVEL')?.expected).toMatch(/silent/);
  });

  it('requires a JWT_SECRET of at least 32 characters in jwt mode, without echoing it', () => {
    expect(problemsOf({ AUTH_MODE: 'jwt' })).toEqual([
      { name: 'JWT_SECRET', expected: expect.stringMatching(/32/), received: undefined },
    ]);
    const [short] = problemsOf({ AUTH_MODE: 'jwt', JWT_SECRET: 'hunter2' });
    expect(short?.name).toBe('JWT_SECRET');
    expect(short?.received).not.toContain('hunter2');
    let message = '';
    try {
      loadConfig({ AUTH_MODE: 'jwt', JWT_SECRET: 'hunter2' });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('JWT_SECRET');
    expect(message).not.toContain('hunter2');
  });

  it('refuses * mixed with other CORS origins, and origins with paths', () => {
    expect(problemsOf({ CORS_ORIGINS: '*,https://a.example' }).map((p) => p.name)).toEqual(['CORS_ORIGINS']);
    expect(problemsOf({ CORS_ORIGINS: 'https://a.example/app' }).map((p) => p.name)).toEqual(['CORS_ORIGINS']);
  });
});

describe('the switchyard command', () => {
  const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
  const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    children.length = 0;
  });

  function run(env: Record<string, string>) {
    const child = spawn(process.execPath, ['--conditions=@switchyard/source', '--import', 'tsx', main], {
      cwd: repoRoot,
      // Only what node needs, so the developer's own variables cannot change the outcome.
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    const output = { stdout: '', stderr: '' };
    child.stdout.on('data', (chunk: Buffer) => (output.stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output.stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    return { child, output, exited };
  }

  it('exits 1 and names every bad variable on stderr', async () => {
    const { output, exited } = run({ PORT: 'eighty', AUTH_MODE: 'jwt', LOG_LEVEL: 'loud' });
    expect(await exited).toBe(1);
    expect(output.stderr).toContain('CONFIG_INVALID');
    for (const name of ['PORT', 'JWT_SECRET', 'LOG_LEVEL']) expect(output.stderr).toContain(name);
    expect(output.stderr).toContain('"eighty"');
  });

  it('listens, and on SIGTERM drains and exits 0', async () => {
    const { child, output, exited } = run({
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      DRAIN_TIMEOUT_MS: '5000',
    });
    const url = await waitFor(
      'the listening log line',
      () => /switchyard listening on (http:\/\/\S+?)"/.exec(output.stdout)?.[1],
      { timeoutMs: DEADLINE_MS * 2 },
    );
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output.stdout).toContain('"msg":"draining"');
  });
});
