import type { FastifyRateLimitStore } from '@fastify/rate-limit';
import type { Collection, Db } from 'mongodb';

/*
 * The HTTP publish rate limit across the cluster (MongoDB mode): a store for @fastify/rate-limit
 * (its documented `store` interface: `incr` and `child`) that counts each publisher's requests in
 * fixed windows, one document per publisher and window, `$inc`-ed atomically on the server — one
 * round trip per publish — so N nodes allow PUBLISH_RATE_LIMIT_MAX once per window, not N times.
 * A TTL index drops a window's document once it is over.
 */

export const PUBLISH_RATE_COLLECTION = 'publish_rate';
const DUPLICATE_KEY = 11000;

interface WindowDocument {
  /** `<key>|<window start>`. */
  _id: string;
  count: number;
  expiresAt: Date;
}

export async function setupPublishRate(db: Db): Promise<void> {
  await db
    .collection<WindowDocument>(PUBLISH_RATE_COLLECTION)
    .createIndex({ expiresAt: 1 }, { name: 'expiresAt_ttl', expireAfterSeconds: 0 });
}

/** A store class for @fastify/rate-limit's `store` option, counting in `db`. */
export function mongoRateLimitStore(db: Db): new () => FastifyRateLimitStore {
  const windows: Collection<WindowDocument> = db.collection(PUBLISH_RATE_COLLECTION);

  async function incr(key: string, timeWindow: number): Promise<{ current: number; ttl: number }> {
    const now = Date.now();
    const start = now - (now % timeWindow);
    const end = start + timeWindow;
    const _id = `${key}|${start}`;
    const update = { $inc: { count: 1 }, $setOnInsert: { expiresAt: new Date(end) } };
    for (let attempt = 0; ; attempt += 1) {
      try {
        const doc = await windows.findOneAndUpdate({ _id }, update, { upsert: true, returnDocument: 'after' });
        return { current: doc?.count ?? 1, ttl: end - now };
      } catch (error) {
        // Two first requests of a window upserting at once: the loser finds the document the second time.
        if ((error as { code?: unknown }).code !== DUPLICATE_KEY || attempt > 0) throw error;
      }
    }
  }

  class MongoRateLimitStore implements FastifyRateLimitStore {
    /** The route a child store counts for: each route's limit is its own. */
    readonly #scope: string;

    constructor(scope = '') {
      this.#scope = scope;
    }

    incr(
      key: string,
      callback: (error: Error | null, result?: { current: number; ttl: number }) => void,
      timeWindow: number,
    ): void {
      incr(`${this.#scope}${key}`, timeWindow).then(
        (result) => callback(null, result),
        (error: unknown) => callback(error instanceof Error ? error : new Error(String(error))),
      );
    }

    child(routeOptions: { method?: unknown; url?: unknown }): FastifyRateLimitStore {
      return new MongoRateLimitStore(`${String(routeOptions.method)} ${String(routeOptions.url)} `);
    }
  }
  return MongoRateLimitStore;
}
