import type { Document } from 'bson';
import { valuesAtPath } from './query/paths.js';
import type { Store } from './store.js';

/** The earliest date a TTL index sees in a document (arrays of dates expire on their earliest), if any. */
function earliestDate(doc: Document, path: string): number | undefined {
  let earliest: number | undefined;
  for (const value of valuesAtPath(doc, path).flatMap((v) => (Array.isArray(v) ? v : [v]))) {
    if (value instanceof Date && (earliest === undefined || value.getTime() < earliest)) earliest = value.getTime();
  }
  return earliest;
}

/**
 * One pass of the TTL monitor: deletes documents whose indexed date plus `expireAfterSeconds` is past.
 * The deletes are ordinary deletes, so change streams see them. Returns how many were deleted.
 */
export function reapExpired(store: Store, now = Date.now()): number {
  let deleted = 0;
  for (const collection of store.allCollections()) {
    for (const spec of collection.ttlIndexes()) {
      const path = Object.keys(spec.key)[0]!;
      const ttlMs = (spec.expireAfterSeconds as number) * 1000;
      for (const doc of collection.all()) {
        const date = earliestDate(doc, path);
        if (date !== undefined && date + ttlMs <= now && collection.delete(doc)) deleted += 1;
      }
    }
  }
  return deleted;
}
