import type { Document } from 'bson';
import { CommandError } from './errors.js';
import type { ServerCursor } from './cursors.js';
import type { Oplog } from './oplog.js';
import type { Matcher } from './query/match.js';
import type { Projector } from './query/project.js';
import { bsonSize, MAX_BSON_OBJECT_SIZE, type Collection } from './store.js';

/**
 * A tailable cursor on a capped collection (https://www.mongodb.com/docs/manual/core/tailable-cursors/): it
 * stays open at the end of the data and a later getMore returns the documents inserted since; with
 * `awaitData`, a getMore waits up to `maxTimeMS` for one. If the collection rolls over the last document the
 * cursor returned, it fails with CappedPositionLost (136), and a dropped collection kills it, as in mongod.
 */
export class TailableCursor implements ServerCursor {
  readonly kind = 'query' as const;
  lastUsed = Date.now();
  private last: string | undefined;
  private closed = false;
  private wakeUp: (() => void) | undefined;

  constructor(
    readonly id: number,
    readonly ns: string,
    private readonly collection: Collection,
    private readonly store: { collection(db: string, name: string): Collection | undefined },
    private readonly oplog: Oplog,
    private readonly matcher: Matcher,
    private readonly project: Projector,
    readonly awaitData: boolean,
  ) {}

  /** The collection was dropped (or renamed): nothing more can come. */
  get dead(): boolean {
    return this.closed || this.store.collection(this.collection.db, this.collection.name) !== this.collection;
  }

  nextBatch(batchSize: number | undefined): Document[] {
    const entries = this.collection.documentsAfter(this.last);
    if (!entries) {
      throw new CommandError(136, 'CollectionScan died due to position in capped collection being deleted.', {
        codeName: 'CappedPositionLost',
      });
    }
    const limit = batchSize && batchSize > 0 ? batchSize : Number.POSITIVE_INFINITY;
    const batch: Document[] = [];
    let bytes = 0;
    for (const { key, doc } of entries) {
      if (batch.length >= limit) break;
      if (this.matcher(doc)) {
        const shaped = this.project(doc);
        const size = bsonSize(shaped);
        if (batch.length > 0 && bytes + size > MAX_BSON_OBJECT_SIZE) break;
        batch.push(shaped);
        bytes += size;
      }
      this.last = key;
    }
    return batch;
  }

  /** awaitData: waits for a write (up to `maxTimeMS`) when nothing is there yet. */
  async awaitBatch(batchSize: number | undefined, maxTimeMS: number, signal: AbortSignal): Promise<Document[]> {
    const deadline = Date.now() + maxTimeMS;
    for (;;) {
      const batch = this.nextBatch(batchSize);
      if (batch.length > 0 || !this.awaitData || this.dead || signal.aborted) return batch;
      const remaining = deadline - Date.now();
      if (remaining <= 0) return batch;
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          unsubscribe();
          signal.removeEventListener('abort', done);
          this.wakeUp = undefined;
          resolve();
        };
        const timer = setTimeout(done, remaining);
        const unsubscribe = this.oplog.onVisible(done);
        signal.addEventListener('abort', done, { once: true });
        this.wakeUp = done;
      });
    }
  }

  close(): void {
    this.closed = true;
    this.wakeUp?.();
  }
}
