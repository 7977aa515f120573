import { TokenBucket } from 'limiter';
import type { GatewaySocket } from '../types.js';

export interface RateLimitOptions {
  burst: number;
  perSecond: number;
}

/**
 * One token bucket per socket, made on the socket's first event: an idle socket costs none.
 * Kept in a WeakMap, so a bucket goes with its socket.
 */
export class SocketRateLimits {
  readonly #buckets = new WeakMap<GatewaySocket, TokenBucket>();
  readonly #options: RateLimitOptions;

  constructor(options: RateLimitOptions) {
    this.#options = options;
  }

  /** Takes one token from the socket's bucket; false when it is empty. */
  tryTake(socket: GatewaySocket): boolean {
    let bucket = this.#buckets.get(socket);
    if (bucket === undefined) {
      const { burst, perSecond } = this.#options;
      bucket = new TokenBucket({ bucketSize: burst, tokensPerInterval: perSecond, interval: 'second' });
      bucket.content = burst; // limiter starts buckets empty; a new socket gets its full burst.
      this.#buckets.set(socket, bucket);
    }
    return bucket.tryRemoveTokens(1);
  }
}
