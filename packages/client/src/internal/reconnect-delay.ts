/*
 * How long to wait before the next connection attempt: exponential backoff with full jitter
 * (a random delay between 0 and min(cap, base·2^attempt)), after the delay a refusing node asked
 * for (`Retry-After`), if any. Full jitter spreads the clients of a dead node evenly over time
 * instead of sending them back in waves; Retry-After keeps them away from a busy node as long as
 * it asked, and the jitter on top keeps them from all coming back at the same second.
 */

/** A Retry-After larger than this is read as this: a misconfigured node must not park clients for hours. */
export const MAX_RETRY_AFTER_MS = 60_000;

export function fullJitterDelay(attempt: number, baseMs: number, capMs: number, random = Math.random): number {
  return Math.floor(random() * Math.max(0, Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30))));
}

interface HttpAnswer {
  getResponseHeader?(name: string): unknown;
  headers?: { get?(name: string): unknown };
}

/**
 * The Retry-After (ms, delay-seconds form) of the HTTP answer behind a failed connection attempt,
 * when the transport exposes it: long-polling does (the XHR, or the fetch Response, is the error's
 * `context`); a browser WebSocket never shows the answer to a refused upgrade.
 */
export function retryAfterMsOf(error: unknown): number | undefined {
  const answer = (error as { context?: HttpAnswer } | null)?.context;
  let value: unknown;
  try {
    value = answer?.getResponseHeader?.('retry-after') ?? answer?.headers?.get?.('retry-after');
  } catch {
    // A browser XHR that does not expose the header may throw: no hint, then.
  }
  return typeof value === 'string' && /^\s*\d+\s*$/.test(value)
    ? Math.min(Number(value) * 1000, MAX_RETRY_AFTER_MS)
    : undefined;
}
