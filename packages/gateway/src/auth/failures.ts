import { TokenBucket } from 'limiter';
import { SwitchyardError } from '@switchyard/protocol';

/*
 * Failed authentications per client address (a wrong API key, a forged or malformed token), so a
 * key or a token cannot be guessed at the speed of the network: each address has a token bucket of
 * AUTH_FAILURE_LIMIT failures refilled over AUTH_FAILURE_WINDOW_MS; once it is empty, every
 * authentication from that address — right or wrong — is refused with RATE_LIMITED until a token
 * drips back, before any credential is looked at (so the answer says nothing about the guess).
 * Sockets, SSE and the HTTP publish API share one instance. Only addresses that failed are kept, at
 * most MAX_ADDRESSES of them (the oldest go first), and a full bucket is forgotten.
 */

export interface AuthFailureOptions {
  /** Failures an address may have in a row before it waits. */
  limit: number;
  /** Over how long `limit` failures are forgiven. */
  windowMs: number;
}

/** A refusal that says when to come back (HTTP: `Retry-After`). */
export class ThrottledError extends SwitchyardError {
  readonly retryAfterMs: number;

  constructor(retryAfterMs: number) {
    super(
      'RATE_LIMITED',
      `Too many failed authentications from this address; retry in ${Math.ceil(retryAfterMs / 1000)} s`,
    );
    this.retryAfterMs = retryAfterMs;
  }
}

const MAX_ADDRESSES = 50_000;

export class AuthFailures {
  readonly #options: AuthFailureOptions;
  readonly #buckets = new Map<string, TokenBucket>();

  constructor(options: AuthFailureOptions) {
    this.#options = options;
  }

  /** Addresses with failures on record (bounded). */
  get size(): number {
    return this.#buckets.size;
  }

  /**
   * Runs `authenticate` for a client at `address`: refused at once (ThrottledError) while the
   * address waits, and an AUTH_INVALID it throws is counted against the address.
   */
  async attempt<T>(address: string, authenticate: () => Promise<T>): Promise<T> {
    const waitMs = this.retryAfterMs(address);
    if (waitMs > 0) throw new ThrottledError(waitMs);
    try {
      return await authenticate();
    } catch (error) {
      if (error instanceof SwitchyardError && error.code === 'AUTH_INVALID') this.#failed(address);
      throw error;
    }
  }

  /** 0 when `address` may try now, else how long until it may. */
  retryAfterMs(address: string): number {
    const bucket = this.#buckets.get(address);
    if (bucket === undefined) return 0;
    bucket.drip();
    if (bucket.content >= bucket.bucketSize) {
      this.#buckets.delete(address);
      return 0;
    }
    if (bucket.content >= 1) return 0;
    return Math.ceil((1 - bucket.content) * (bucket.interval / bucket.tokensPerInterval));
  }

  #failed(address: string): void {
    let bucket = this.#buckets.get(address);
    if (bucket === undefined) {
      const { limit, windowMs } = this.#options;
      bucket = new TokenBucket({ bucketSize: limit, tokensPerInterval: limit, interval: windowMs });
      bucket.content = limit; // limiter starts buckets empty
      this.#buckets.set(address, bucket);
      if (this.#buckets.size > MAX_ADDRESSES) this.#buckets.delete(this.#buckets.keys().next().value as string);
    }
    bucket.tryRemoveTokens(1);
  }
}
