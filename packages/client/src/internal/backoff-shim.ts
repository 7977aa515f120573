import type { Manager } from 'socket.io-client';

/*
 * The one place the SDK uses an internal of socket.io-client (4.x): the Manager's `backoff`, whose
 * `duration()` the Manager asks for the delay before each reconnection attempt (and whose `attempts`
 * it compares with `reconnectionAttempts`). Replacing `duration` keeps everything else of
 * socket.io-client's reconnection as it is (`reconnection(false)`, `reconnectionAttempts`,
 * `reconnect_attempt` / `reconnect_failed`, recovery) and changes only how long it waits.
 * test/backoff-shim.test.ts fails on a version where the Manager stops asking it.
 */

interface ManagerBackoff {
  attempts: number;
  duration(): number;
}

/**
 * Has the Manager wait `delayFor(attempt)` ms before reconnection attempt `attempt` (0 first).
 * Returns false, leaving socket.io-client's own delays, on a version without the internal.
 */
export function useReconnectDelays(manager: Manager, delayFor: (attempt: number) => number): boolean {
  const backoff = (manager as unknown as { backoff?: ManagerBackoff }).backoff;
  if (typeof backoff?.duration !== 'function') return false;
  backoff.duration = () => delayFor(backoff.attempts++);
  return true;
}
