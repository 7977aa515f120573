import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/index.js';

function problemsOf(env: Record<string, string>): { name: string; received: string | undefined }[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map(({ name, received }) => ({ name, received }));
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('SSE and HTTP API configuration', () => {
  it('parses the SSE, publish and private-room variables', () => {
    const config = loadConfig({
      SSE_HEARTBEAT_MS: '5000',
      SSE_RETRY_MS: '0',
      SSE_MAX_STREAMS: '100',
      SSE_MAX_STREAMS_PER_CLIENT: '3',
      SSE_BUFFER_BYTES: '4096',
      SSE_BUFFER_EVENTS: '10',
      PRIVATE_ROOM_PREFIX: 'dm.',
      PUBLISH_RATE_LIMIT_MAX: '5',
      PUBLISH_RATE_LIMIT_WINDOW_MS: '1000',
    });
    expect(config.sse).toEqual({
      heartbeatMs: 5000,
      retryMs: 0,
      maxStreams: 100,
      maxStreamsPerClient: 3,
      bufferBytes: 4096,
      bufferEvents: 10,
    });
    expect(config.privateRoomPrefix).toBe('dm.');
    expect(config.publish.rateLimit).toEqual({ max: 5, windowMs: 1000 });
  });

  it('keeps only SHA-256 digests of API_KEYS, never the keys', () => {
    const keys = ['first-key-0123456789', 'second-key-0123456789'];
    const config = loadConfig({ API_KEYS: keys.join(',') });
    expect(config.publish.apiKeySha256).toEqual(keys.map((key) => createHash('sha256').update(key).digest('hex')));
    expect(JSON.stringify(config)).not.toContain('first-key');
  });

  it('reports bad values by name, with API_KEYS masked', () => {
    expect(
      problemsOf({ API_KEYS: 'short,long-enough-key-0123456789', SSE_HEARTBEAT_MS: '5', PRIVATE_ROOM_PREFIX: '-bad' }),
    ).toEqual([
      { name: 'SSE_HEARTBEAT_MS', received: '5' },
      { name: 'PRIVATE_ROOM_PREFIX', received: '-bad' },
      { name: 'API_KEYS', received: '<hidden, 32 characters>' },
    ]);
  });
});
