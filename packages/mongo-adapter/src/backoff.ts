export interface BackoffOptions {
  /** First retry delay ceiling, ms. */
  initialMs: number;
  /** Largest retry delay ceiling, ms. */
  maxMs: number;
}

/**
 * Exponential backoff with full jitter: a random delay in [0, min(max, initial * 2^attempt)].
 * Jitter keeps every node of a cluster from reconnecting to a recovered primary in the same millisecond.
 */
export function backoffDelay(options: BackoffOptions, attempt: number): number {
  const ceiling = Math.min(options.maxMs, options.initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(Math.random() * ceiling);
}
