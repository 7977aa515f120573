import type { Manager } from 'socket.io-client';
import { useReconnectDelays } from './backoff-shim.js';
import { fullJitterDelay, retryAfterMsOf } from './reconnect-delay.js';

/**
 * socket.io-client's reconnection, with the SDK's delays: full jitter between 0 and
 * min(reconnectionDelayMax, reconnectionDelay·2^attempt), after the Retry-After of the last refused
 * attempt. `reconnectionDelay` / `reconnectionDelayMax` keep their meaning (base and cap);
 * `randomizationFactor` is not used.
 */
export function jitterReconnects(manager: Manager): void {
  let retryAfterMs: number | undefined;
  // A failed attempt reports its error here just before the Manager asks for the next delay.
  manager.on('error', (error) => void (retryAfterMs = retryAfterMsOf(error)));
  useReconnectDelays(manager, (attempt) => {
    const wait = retryAfterMs ?? 0;
    retryAfterMs = undefined;
    return wait + fullJitterDelay(attempt, manager.reconnectionDelay(), manager.reconnectionDelayMax());
  });
}
