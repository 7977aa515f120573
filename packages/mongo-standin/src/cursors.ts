import { Long, type Document } from 'bson';
import { CommandError, ErrorCodes } from './errors.js';
import { bsonSize, MAX_BSON_OBJECT_SIZE } from './store.js';

/** Replies are capped at 16 MiB of documents per batch, like mongod's. */
export const MAX_BATCH_BYTES = MAX_BSON_OBJECT_SIZE;
const DEFAULT_FIRST_BATCH = 101;
const MAX_OPEN_CURSORS = 10_000;

export interface ServerCursor {
  readonly id: number;
  /** `db.coll`, as echoed in the reply's `cursor.ns`. */
  readonly ns: string;
  readonly kind: 'query' | 'changeStream';
  lastUsed: number;
  close(): void;
}

/** A cursor over a result computed when the query ran (find, aggregate, list*). */
export class QueryCursor implements ServerCursor {
  readonly kind = 'query' as const;
  lastUsed = Date.now();
  private offset = 0;

  constructor(
    readonly id: number,
    readonly ns: string,
    private readonly docs: Document[],
  ) {}

  get exhausted(): boolean {
    return this.offset >= this.docs.length;
  }

  nextBatch(batchSize: number | undefined): Document[] {
    const limit = batchSize && batchSize > 0 ? batchSize : Number.POSITIVE_INFINITY;
    const batch: Document[] = [];
    let bytes = 0;
    while (this.offset < this.docs.length && batch.length < limit) {
      const doc = this.docs[this.offset]!;
      const size = bsonSize(doc);
      if (batch.length > 0 && bytes + size > MAX_BATCH_BYTES) break;
      batch.push(doc);
      bytes += size;
      this.offset += 1;
    }
    return batch;
  }

  close(): void {
    this.offset = this.docs.length;
  }
}

/** Open cursors by id. Ids stay below 2^53 so drivers that promote longs still round-trip them. */
export class CursorRegistry {
  private readonly cursors = new Map<number, ServerCursor>();
  private nextId = 1 + Math.floor(Math.random() * 2 ** 40);

  allocateId(): number {
    return this.nextId++;
  }

  register(cursor: ServerCursor): void {
    if (this.cursors.size >= MAX_OPEN_CURSORS) {
      const oldest = [...this.cursors.values()].sort((a, b) => a.lastUsed - b.lastUsed)[0]!;
      this.kill(oldest.id);
    }
    this.cursors.set(cursor.id, cursor);
  }

  get(id: number): ServerCursor {
    const cursor = this.cursors.get(id);
    if (!cursor) throw new CommandError(ErrorCodes.CursorNotFound, `cursor id ${id} not found`);
    cursor.lastUsed = Date.now();
    return cursor;
  }

  has(id: number): boolean {
    return this.cursors.has(id);
  }

  kill(id: number): boolean {
    const cursor = this.cursors.get(id);
    if (!cursor) return false;
    this.cursors.delete(id);
    cursor.close();
    return true;
  }

  killAll(): void {
    for (const id of [...this.cursors.keys()]) this.kill(id);
  }

  get size(): number {
    return this.cursors.size;
  }
}

/** First batch of a query cursor; registers the cursor only when more remains (id 0 otherwise). */
export function openQueryCursor(
  registry: CursorRegistry,
  ns: string,
  docs: Document[],
  options: { batchSize?: number; singleBatch?: boolean },
): Document {
  const cursor = new QueryCursor(registry.allocateId(), ns, docs);
  const firstBatch = options.batchSize === 0 ? [] : cursor.nextBatch(options.batchSize ?? DEFAULT_FIRST_BATCH);
  const keepOpen = !cursor.exhausted && !options.singleBatch;
  if (keepOpen) registry.register(cursor);
  return { cursor: { firstBatch, id: cursorIdValue(keepOpen ? cursor.id : 0), ns }, ok: 1 };
}

/** Cursor ids travel as int64 on the wire. */
export function cursorIdValue(id: number): Long {
  return Long.fromNumber(id);
}
