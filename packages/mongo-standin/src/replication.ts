import { UUID, type Timestamp } from 'bson';
import { compareTs } from './clock.js';
import type { ReplicaSetMember } from './member.js';
import type { OplogEntry } from './oplog.js';
import type { ReplicaSet } from './replica-set.js';
import { copyData } from './rollback.js';
import type { Collection, Store } from './store.js';

/**
 * Applies one entry of the sync source's oplog to a secondary: the data change first, then the entry itself
 * (same time, token and content), so a change stream on the secondary that sees the entry finds the data.
 * Secondaries never run the primary's logic again (no checks, no capped deletes of their own): they set what
 * the entry says, as mongod's oplog application does.
 */
export function applyEntry(member: ReplicaSetMember, entry: OplogEntry): void {
  const { store } = member;
  switch (entry.op) {
    case 'insert':
    case 'update':
    case 'replace':
      collectionFor(store, entry).applyPut(entry.document!);
      break;
    case 'delete':
      store.collection(entry.db, entry.coll!)?.applyRemove(entry.documentKey!._id);
      break;
    case 'drop':
      store.applyDropCollection(entry.db, entry.coll!);
      break;
    case 'dropDatabase':
      store.applyDropDatabase(entry.db);
      break;
    case 'rename':
      store.applyRename(entry.db, entry.coll!, entry.to!.db, entry.to!.coll);
      break;
    case 'noop':
      if (entry.catalog) store.applyCatalog(entry.catalog);
      break;
  }
  member.oplog.appendReplicated(entry);
  member.counters.entriesReplicated += 1;
}

function collectionFor(store: Store, entry: OplogEntry): Collection {
  const existing = store.collection(entry.db, entry.coll!);
  if (existing) return existing;
  // Every collection's creation is replicated before its first write; this covers a member whose copy began
  // after that entry (a resync), should the collection be missing.
  return store.applyCatalog({
    db: entry.db,
    coll: entry.coll!,
    uuid: new UUID(),
    options: {},
    indexes: [{ v: 2, key: { _id: 1 }, name: '_id_' }],
  });
}

/**
 * A member that fell behind what its source still has (the entries it needs fell off the source's oplog, or it
 * never had any) copies the source's data instead: mongod's initial sync. Its own history before that point is
 * gone (resuming a change stream there from an older token fails with 286).
 */
export function resync(member: ReplicaSetMember, source: ReplicaSetMember): void {
  member.cursors.killAll();
  member.interruptions += 1;
  copyData(source.store, member.store);
  const newest = source.oplog.newest();
  if (newest) {
    member.oplog.markLostBefore(newest.ts);
    member.oplog.appendReplicated(newest);
  } else {
    member.lastApplied = source.lastApplied;
  }
  member.ttlIndexes.reset();
}

/** Applies what `source` has after `member`'s position, up to `upTo` when given, whatever the lag. */
export function catchUp(member: ReplicaSetMember, source: ReplicaSetMember, upTo?: Timestamp): void {
  if (source.oplog.lostEntriesAfter(member.lastApplied)) resync(member, source);
  for (const entry of source.oplog.entriesAfter(member.lastApplied)) {
    if (upTo !== undefined && compareTs(entry.ts, upTo) > 0) return;
    applyEntry(member, entry);
  }
}

/** Applies every pending entry on every secondary now, whatever the lag. */
export function flushReplication(replicators: readonly Replicator[]): void {
  for (const replicator of replicators) replicator.pump(true);
}

/**
 * Pulls one secondary's entries from its sync source, each `lagMs` after the source applied it, in order.
 * With no lag an entry is applied at once, inside the source's append (so `w: 'majority'` is immediate).
 */
export class Replicator {
  lagMs = 0;
  private timer: NodeJS.Timeout | undefined;
  private pumping = false;
  private stopped = false;

  constructor(
    private readonly set: ReplicaSet,
    readonly member: ReplicaSetMember,
  ) {}

  get source(): ReplicaSetMember | undefined {
    return this.set.syncSourceFor(this.member);
  }

  setLag(ms: number): void {
    this.lagMs = ms;
    this.clearTimer();
    this.pump();
  }

  /** Applies every entry that is due (all of them with `ignoreLag`), then waits for the next one. */
  pump(ignoreLag = false): void {
    if (this.pumping || this.stopped) return;
    const source = this.source;
    if (!source) return;
    this.pumping = true;
    try {
      if (source.oplog.lostEntriesAfter(this.member.lastApplied)) resync(this.member, source);
      const now = Date.now();
      for (const entry of source.oplog.entriesAfter(this.member.lastApplied)) {
        const due = entry.appliedAt + this.lagMs;
        if (!ignoreLag && due > now) {
          this.schedule(due - now);
          return;
        }
        applyEntry(this.member, entry);
      }
    } finally {
      this.pumping = false;
    }
  }

  private schedule(ms: number): void {
    this.clearTimer();
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.pump();
    }, ms);
    this.timer.unref();
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Forgets pending work (the member's data was replaced). */
  reset(): void {
    this.clearTimer();
  }

  stop(): void {
    this.stopped = true;
    this.clearTimer();
  }
}
