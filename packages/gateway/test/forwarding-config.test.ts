import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';
import { internalUrlOf } from '../src/cluster/forwarding.js';

/*
 * The variables of "any load balancer" (CLUSTER_SECRET, INTERNAL_URL, FORWARD_*) and of reconnect
 * storms (HANDSHAKE_*, JWT_VERIFY_*, RESTORE_*): parsed, bounded, secrets never echoed.
 */

const SECRET = 'c'.repeat(32);

function problemsOf(env: Record<string, string>): { name: string; expected: string; received: string | undefined }[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('forwarding and admission configuration', () => {
  it('forwards only with a CLUSTER_SECRET, and reads every variable', () => {
    expect(loadConfig({}).forwarding).toBeUndefined();
    const config = loadConfig({
      CLUSTER_SECRET: SECRET,
      INTERNAL_URL: 'http://10.0.0.7:3000/',
      FORWARD_TIMEOUT_MS: '2500',
      FORWARD_MAX_IN_FLIGHT: '50',
      HANDSHAKE_MAX_CONCURRENT: '8',
      HANDSHAKE_RETRY_AFTER_S: '3',
      JWT_VERIFY_MAX_CONCURRENT: '4',
      RESTORE_MAX_CONCURRENT: '2',
      RESTORE_RATE_PER_SECOND: '20',
    });
    expect(config.forwarding).toEqual({
      secret: SECRET,
      internalUrl: 'http://10.0.0.7:3000',
      timeoutMs: 2500,
      maxInFlight: 50,
    });
    expect(config.admission).toEqual({
      maxHandshakes: 8,
      retryAfterSeconds: 3,
      maxJwtVerifications: 4,
      maxRestores: 2,
      restoresPerSecond: 20,
    });
    expect(Object.isFrozen(config.forwarding)).toBe(true);
  });

  it('reports a short secret without echoing it, a URL with a path, and bad bounds, all at once', () => {
    const problems = problemsOf({
      CLUSTER_SECRET: 'too-short-secret',
      INTERNAL_URL: 'http://gw1:3000/socket.io',
      FORWARD_TIMEOUT_MS: '10',
      HANDSHAKE_MAX_CONCURRENT: '0',
      RESTORE_RATE_PER_SECOND: 'fast',
    });
    expect(problems.map((problem) => problem.name).sort()).toEqual([
      'CLUSTER_SECRET',
      'FORWARD_TIMEOUT_MS',
      'HANDSHAKE_MAX_CONCURRENT',
      'INTERNAL_URL',
      'RESTORE_RATE_PER_SECOND',
    ]);
    const secret = problems.find((problem) => problem.name === 'CLUSTER_SECRET');
    expect(secret?.received).toBe('<hidden, 16 characters>');
  });

  it('needs CLUSTER_SECRET when INTERNAL_URL is set', () => {
    expect(problemsOf({ INTERNAL_URL: 'http://gw1:3000' }).map((problem) => problem.name)).toEqual(['CLUSTER_SECRET']);
  });

  it('derives the internal URL from HOST and the port bound when INTERNAL_URL is unset', () => {
    const forwarding = loadConfig({ CLUSTER_SECRET: SECRET }).forwarding!;
    expect(internalUrlOf(forwarding, { host: '127.0.0.1', port: 0 }, null)).toBeUndefined();
    expect(
      internalUrlOf(forwarding, { host: '127.0.0.1', port: 0 }, { port: 4567, address: '127.0.0.1', family: 'IPv4' }),
    ).toBe('http://127.0.0.1:4567');
    expect(internalUrlOf(forwarding, { host: '::1', port: 3000 }, null)).toBe('http://[::1]:3000');
    expect(internalUrlOf(forwarding, { host: '0.0.0.0', port: 3000 }, null)).toMatch(/^http:\/\/[^:/]+:3000$/);
  });
});
