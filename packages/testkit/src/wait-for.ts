import { setTimeout as sleep } from 'node:timers/promises';

/** Generous for a loaded 2-core machine: a deadline, not a speed expectation. */
export const DEADLINE_MS = 10_000;

export interface WaitOptions {
  /** Default DEADLINE_MS. */
  timeoutMs?: number;
  /** Default 20 ms. */
  intervalMs?: number;
}

/**
 * Polls `check` until it returns a truthy value, and returns that value. A check that throws is
 * tried again; past the deadline the error names `what` and carries the last error. No fixed sleeps.
 */
export async function waitFor<T>(
  what: string,
  check: () => T | Promise<T>,
  { timeoutMs = DEADLINE_MS, intervalMs = 20 }: WaitOptions = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const last = lastError === undefined ? '' : ` (last error: ${String(lastError)})`;
      throw new Error(`timed out waiting for ${what}${last}`, { cause: lastError });
    }
    await sleep(intervalMs);
  }
}

/** Rejects with "timed out waiting for `what`" unless `body` settles within DEADLINE_MS. */
export function withDeadline<T>(
  what: string,
  body: (resolve: (value: T) => void, reject: (error: unknown) => void) => void,
  timeoutMs = DEADLINE_MS,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
    body(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
