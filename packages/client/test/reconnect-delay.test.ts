import { describe, expect, it } from 'vitest';
import { fullJitterDelay, MAX_RETRY_AFTER_MS, retryAfterMsOf } from '../src/internal/reconnect-delay.js';

describe('reconnect delays', () => {
  it('draws each delay uniformly between 0 and min(cap, base·2^attempt)', () => {
    expect(fullJitterDelay(0, 1000, 5000, () => 0)).toBe(0);
    expect(fullJitterDelay(0, 1000, 5000, () => 0.999)).toBe(999);
    expect(fullJitterDelay(1, 1000, 5000, () => 0.5)).toBe(1000);
    expect(fullJitterDelay(2, 1000, 5000, () => 0.5)).toBe(2000);
    expect(fullJitterDelay(3, 1000, 5000, () => 0.5)).toBe(2500); // capped at 5000
    expect(fullJitterDelay(1000, 1000, 5000, () => 0.999)).toBe(4995);
    const draws = Array.from({ length: 1000 }, () => fullJitterDelay(4, 100, 1000));
    expect(Math.min(...draws)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...draws)).toBeLessThan(1000);
  });

  it('reads Retry-After from the XHR or fetch Response behind a failed polling request', () => {
    const xhr = { getResponseHeader: (name: string) => (name === 'retry-after' ? '3' : null) };
    expect(retryAfterMsOf({ description: 503, context: xhr })).toBe(3000);
    const response = { headers: new Headers({ 'Retry-After': '2' }) };
    expect(retryAfterMsOf({ context: response })).toBe(2000);
  });

  it('ignores what is not a usable Retry-After, and bounds a huge one', () => {
    expect(retryAfterMsOf(new Error('websocket error'))).toBeUndefined();
    expect(retryAfterMsOf({ context: { getResponseHeader: () => null } })).toBeUndefined();
    expect(retryAfterMsOf({ context: { headers: new Headers({ 'Retry-After': 'soon' }) } })).toBeUndefined();
    // The HTTP-date form is valid HTTP, but the gateway never sends it: it is not read.
    const date = { headers: new Headers({ 'Retry-After': 'Tue, 01 Jan 2030 00:00:05 GMT' }) };
    expect(retryAfterMsOf({ context: date })).toBeUndefined();
    expect(retryAfterMsOf({ context: { headers: new Headers({ 'Retry-After': '86400' }) } })).toBe(MAX_RETRY_AFTER_MS);
    const throwing = {
      getResponseHeader: () => {
        throw new Error('refused to get unsafe header');
      },
    };
    expect(retryAfterMsOf({ context: throwing })).toBeUndefined();
  });
});
