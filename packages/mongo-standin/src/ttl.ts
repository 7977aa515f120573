import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Document } from 'bson';
import type { ReplicaSetMember } from './member.js';
import type { OplogEntry } from './oplog.js';
import { compileFilter, type Matcher } from './query/match.js';
import { valuesAtPath } from './query/paths.js';
import type { ReplicaSet } from './replica-set.js';
import type { Store } from './store.js';

/** mongod's TTL monitor wakes every `ttlMonitorSleepSecs` (60 s by default). */
export const DEFAULT_TTL_MONITOR_INTERVAL_MS = 60_000;
/** Deletes per event-loop turn: the monitor yields between batches instead of holding the loop. */
const DELETES_PER_TURN = 500;

/** The earliest date a TTL index sees in a document (arrays of dates expire on their earliest), if any. */
function earliestDate(doc: Document, path: string): number | undefined {
  let earliest: number | undefined;
  for (const value of valuesAtPath(doc, path).flatMap((v) => (Array.isArray(v) ? v : [v]))) {
    if (value instanceof Date && (earliest === undefined || value.getTime() < earliest)) earliest = value.getTime();
  }
  return earliest;
}

interface Keyed {
  /** The document's indexed date (ms). */
  at: number;
  id: unknown;
}

/** A binary min-heap on `at`: the TTL index's order, oldest date first. */
class DateHeap {
  private items: Keyed[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): Keyed | undefined {
    return this.items[0];
  }

  push(item: Keyed): void {
    const items = this.items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (items[parent]!.at <= item.at) break;
      items[i] = items[parent]!;
      i = parent;
    }
    items[i] = item;
  }

  pop(): Keyed | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length === 0 || last === undefined) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= items.length) break;
      const right = left + 1;
      const child = right < items.length && items[right]!.at < items[left]!.at ? right : left;
      if (items[child]!.at >= last.at) break;
      items[i] = items[child]!;
      i = child;
    }
    items[i] = last;
    return top;
  }
}

/** One TTL index: its documents ordered by indexed date (entries go stale lazily and are checked when popped). */
class TtlIndex {
  heap = new DateHeap();
  private readonly partial: Matcher | undefined;

  constructor(
    readonly db: string,
    readonly coll: string,
    readonly name: string,
    readonly path: string,
    partialFilterExpression: unknown,
  ) {
    this.partial = partialFilterExpression === undefined ? undefined : compileFilter(partialFilterExpression);
  }

  /** The date under which the index holds `doc`, if it holds it at all. */
  keyOf(doc: Document): number | undefined {
    if (this.partial && !this.partial(doc)) return undefined;
    return earliestDate(doc, this.path);
  }

  add(doc: Document): void {
    const at = this.keyOf(doc);
    if (at !== undefined) this.heap.push({ at, id: doc._id });
  }

  rebuild(docs: Document[]): void {
    this.heap = new DateHeap();
    for (const doc of docs) this.add(doc);
  }
}

const nsKey = (db: string, coll: string) => `${db}\0${coll}`;

/**
 * A member's TTL indexes, kept current from its oplog like any index (mongod maintains indexes on every member,
 * so a new primary's monitor has them): built by one scan when the index is created (the catalog entry), after
 * which each write costs a heap push and the monitor reads only expired documents, never the whole collection.
 */
export class TtlIndexes {
  private byNs = new Map<string, TtlIndex[]>();

  constructor(private readonly member: ReplicaSetMember) {}

  /** Rebuilds every index from the member's data (which was just replaced: rollback, resync, wipe). */
  reset(): void {
    this.byNs.clear();
    for (const collection of this.member.store.allCollections()) this.refresh(collection.db, collection.name);
  }

  all(): TtlIndex[] {
    return [...this.byNs.values()].flat();
  }

  /** Keeps the indexes current: called for every entry the member applies. */
  onEntry(entry: OplogEntry): void {
    if (entry.coll === undefined) {
      if (entry.op === 'dropDatabase') {
        for (const key of [...this.byNs.keys()]) if (key.startsWith(`${entry.db}\0`)) this.byNs.delete(key);
      }
      return;
    }
    const indexes = this.byNs.get(nsKey(entry.db, entry.coll));
    switch (entry.op) {
      case 'insert':
        for (const index of indexes ?? []) index.add(entry.document!);
        break;
      case 'update':
      case 'replace':
        for (const index of indexes ?? []) {
          // An update that leaves the indexed date alone does not move the document in the index.
          const before = entry.preImage ? index.keyOf(entry.preImage) : undefined;
          if (before === undefined || before !== index.keyOf(entry.document!)) index.add(entry.document!);
        }
        break;
      case 'drop':
        this.byNs.delete(nsKey(entry.db, entry.coll));
        break;
      case 'rename':
        this.byNs.delete(nsKey(entry.db, entry.coll));
        this.refresh(entry.to!.db, entry.to!.coll);
        break;
      case 'noop':
        if (entry.catalog) this.refresh(entry.db, entry.coll);
        break;
    }
  }

  /** Builds the TTL indexes a collection's definition has now, keeping those that did not change. */
  private refresh(db: string, coll: string): void {
    const collection = this.member.store.collection(db, coll);
    const previous = this.byNs.get(nsKey(db, coll)) ?? [];
    const next: TtlIndex[] = [];
    for (const spec of collection?.ttlIndexes() ?? []) {
      const path = Object.keys(spec.key)[0]!;
      const kept = previous.find((index) => index.name === spec.name && index.path === path);
      if (kept) {
        next.push(kept);
        continue;
      }
      const index = new TtlIndex(db, coll, spec.name, path, spec.partialFilterExpression);
      index.rebuild(collection!.all());
      next.push(index);
    }
    if (next.length > 0) this.byNs.set(nsKey(db, coll), next);
    else this.byNs.delete(nsKey(db, coll));
  }
}

/**
 * One pass of the TTL monitor on the primary: deletes the documents whose indexed date plus the index's
 * `expireAfterSeconds` has passed, reading them off the TTL index in date order. The deletes are ordinary
 * deletes (change streams see them, secondaries replicate them). It yields every few hundred deletes and stops
 * if the member is no longer primary. Returns how many it deleted.
 */
export async function reapExpired(member: ReplicaSetMember, now = Date.now()): Promise<number> {
  const { counters } = member;
  const store: Store = member.store;
  let deleted = 0;
  for (const index of member.ttlIndexes.all()) {
    for (;;) {
      if (!member.isPrimary || member.store !== store) return deleted;
      const collection = store.collection(index.db, index.coll);
      const spec = collection?.ttlIndexes().find((s) => s.name === index.name);
      if (!collection || !spec) break;
      const ttlMs = (spec.expireAfterSeconds as number) * 1000;
      // Stale entries (documents deleted or re-dated since) pile up under heavy updates: rebuild when they dominate.
      if (index.heap.size > 2 * collection.count + 1024) index.rebuild(collection.all());
      let batch = 0;
      while (batch < DELETES_PER_TURN) {
        const next = index.heap.peek();
        if (!next || next.at + ttlMs > now) break;
        index.heap.pop();
        counters.ttlEntriesExamined += 1;
        const doc = collection.get(next.id);
        if (!doc || index.keyOf(doc) !== next.at) continue;
        if (collection.delete(doc)) {
          deleted += 1;
          batch += 1;
          counters.ttlDeletes += 1;
        }
      }
      if (batch < DELETES_PER_TURN) break;
      await nextTurn();
    }
  }
  return deleted;
}

/** Runs a TTL pass on the current primary every `intervalMs` (mongod: every 60 s). Passes never overlap. */
export class TtlMonitor {
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(
    private readonly set: ReplicaSet,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    this.stop();
    this.timer = setInterval(() => void this.pass(), this.intervalMs);
    this.timer.unref();
  }

  private async pass(): Promise<void> {
    const primary = this.set.primary;
    if (this.running || !primary) return;
    this.running = true;
    this.set.counters.ttlPasses += 1;
    try {
      await reapExpired(primary);
    } finally {
      this.running = false;
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
