import { Timestamp as TimestampValue, type Document, type Timestamp, type UUID } from 'bson';
import { compareTs, type ClusterClock } from './clock.js';
import { entryToken } from './change-events.js';
import { tokenData, TokenKind } from './resume-token.js';

/** The time part of a token ('82' + seconds + increment), without its kind: tokens of one write share it. */
const timeOf = (token: string): string => token.slice(0, 18);

export type OplogOp = 'insert' | 'update' | 'replace' | 'delete' | 'drop' | 'dropDatabase' | 'rename' | 'noop';

/** One write, as change streams need it (a richer record than a real oplog entry: images are kept inline). */
export interface OplogEntry {
  ts: Timestamp;
  /** Token of the event this entry produces (kind Event); also its position in the log. */
  token: string;
  wall: Date;
  op: OplogOp;
  db: string;
  coll?: string;
  documentKey?: Document;
  /** insert/replace: the document written; update: the post-image. */
  document?: Document;
  /** update/replace/delete: the document before the write. */
  preImage?: Document;
  updateDescription?: Document;
  /** Epoch ms when the write was applied; change streams see it `eventDelayMs` later. */
  appliedAt: number;
  bytes: number;
  /** On 'noop' entries that record a catalog change: the collection's definition after it (see replication.ts). */
  catalog?: CatalogSnapshot;
  // What change streams show of an entry (change-events.ts):
  /** The collection's UUID: change events' `collectionUUID`, and part of their resume tokens. */
  uuid?: UUID;
  /** A catalog change shown to `showExpandedEvents` streams: create, createIndexes, dropIndexes, modify. */
  ddl?: DdlEvent;
  /** 'rename': the target namespace, and the UUID of the collection it replaced (dropTarget). */
  to?: { db: string; coll: string };
  dropTarget?: UUID;
  /** The collection had changeStreamPreAndPostImages enabled: pre- and post-images are available. */
  imagesRecorded?: boolean;
  /** The write was part of a committed transaction: change events carry its `lsid` and `txnNumber`. */
  transaction?: { lsid: Document; txnNumber: number };
}

/** A DDL change event's content (mongod's oplog command entry, as change streams report it). */
export interface DdlEvent {
  operationType: 'create' | 'createIndexes' | 'dropIndexes' | 'modify';
  operationDescription: Document;
  stateBeforeChange?: Document;
}

/** A collection's definition (options, indexes) after a catalog change, replicated like any write. */
export interface CatalogSnapshot {
  db: string;
  coll: string;
  uuid: UUID;
  options: Document;
  indexes: Document[];
}

export interface OplogBounds {
  /** Max retained entries (MongoDB sizes its oplog in MB; entries are easier to reason about in tests). */
  maxEntries: number;
  maxBytes: number;
}

/**
 * A bounded, append-only log of writes. Old entries fall off the front; a change stream whose position
 * is older than what fell off has lost its history (ChangeStreamHistoryLost, 286).
 * Change streams see an entry only once it is majority-committed (at or before the commit point the replica
 * set gives this log), as mongod's do; on top of that, visibility can lag (event delay) or freeze (paused).
 * Each member has its own log: the primary appends, secondaries append what they replicate.
 */
export class Oplog {
  private entries: OplogEntry[] = [];
  private head = 0;
  private bytes = 0;
  /** Token of the newest entry that is gone; streams positioned before it lost history. */
  private lostUpTo: string | undefined;
  /** Token of the first entry ever appended: no position before it was ever issued by this log. */
  private origin: string | undefined;
  /** The same two bounds as optimes, for replication (which reads positions as timestamps). */
  private lostUpToTs: Timestamp | undefined;
  private originTs: Timestamp | undefined;
  private listeners = new Set<() => void>();
  private timers = new Set<NodeJS.Timeout>();
  private eventDelayMs = 0;
  private pausedAt: string | undefined;
  private paused = false;
  /** Newest majority-committed position this member knows of; nothing after it is shown to change streams. */
  private commitPoint: Timestamp | undefined;
  private appendListeners = new Set<(entry: OplogEntry) => void>();
  /** While appending: a commit point moved by the append's listeners is announced by the append itself. */
  private appending = false;

  constructor(
    private readonly clock: ClusterClock,
    private bounds: OplogBounds,
  ) {}

  get size(): number {
    return this.entries.length - this.head;
  }

  append(fields: Omit<OplogEntry, 'ts' | 'token' | 'wall' | 'appliedAt'>): OplogEntry {
    const ts = this.clock.tick();
    const now = Date.now();
    const last = this.entries[this.entries.length - 1];
    const appliedAt = Math.max(now, last?.appliedAt ?? 0);
    const entry: OplogEntry = { ...fields, ts, token: entryToken(ts, fields), wall: new Date(now), appliedAt };
    return this.push(entry);
  }

  /** Appends an entry another member wrote (same time, token and content), as a secondary applying it. */
  appendReplicated(entry: OplogEntry): OplogEntry {
    const last = this.entries[this.entries.length - 1];
    const appliedAt = Math.max(Date.now(), last?.appliedAt ?? 0);
    return this.push({ ...entry, appliedAt });
  }

  private push(entry: OplogEntry): OplogEntry {
    this.entries.push(entry);
    this.origin ??= entry.token;
    this.originTs ??= entry.ts;
    this.bytes += entry.bytes;
    this.truncate();
    this.appending = true;
    try {
      for (const listener of [...this.appendListeners]) listener(entry);
    } finally {
      this.appending = false;
    }
    if (this.eventDelayMs === 0) this.notify();
    else this.notifyAt(this.eventDelayMs);
    return entry;
  }

  /** Calls `listener` after every append (own writes and replicated ones); returns an unsubscribe function. */
  onAppend(listener: (entry: OplogEntry) => void): () => void {
    this.appendListeners.add(listener);
    return () => this.appendListeners.delete(listener);
  }

  /** Entries written after `ts`, oldest first, whatever their visibility (replication reads these). */
  *entriesAfter(ts: Timestamp): Generator<OplogEntry> {
    let lo = this.head;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareTs(this.entries[mid]!.ts, ts) <= 0) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.entries.length; i++) yield this.entries[i]!;
  }

  /** The oldest retained entry, if any. */
  oldest(): OplogEntry | undefined {
    return this.size > 0 ? this.entries[this.head] : undefined;
  }

  /** The newest retained entry, if any. */
  newest(): OplogEntry | undefined {
    return this.size > 0 ? this.entries[this.entries.length - 1] : undefined;
  }

  /**
   * Removes every entry after `ts` (a rollback: they were never majority-committed, so no change stream saw
   * them). Returns how many were removed.
   */
  truncateAfter(ts: Timestamp): number {
    let removed = 0;
    while (this.size > 0 && compareTs(this.entries[this.entries.length - 1]!.ts, ts) > 0) {
      this.bytes -= this.entries.pop()!.bytes;
      removed += 1;
    }
    return removed;
  }

  /**
   * Moves the commit point (never backwards): entries at or before it become visible to change streams.
   * The replica set calls this with the newest position a majority has applied, capped at what this member has.
   */
  setCommitPoint(ts: Timestamp): void {
    if (this.commitPoint !== undefined && compareTs(ts, this.commitPoint) <= 0) return;
    this.commitPoint = ts;
    if (!this.appending) this.notify();
  }

  get majorityCommitPoint(): Timestamp | undefined {
    return this.commitPoint;
  }

  private truncate(): void {
    while (this.size > 1 && (this.size > this.bounds.maxEntries || this.bytes > this.bounds.maxBytes)) {
      const gone = this.entries[this.head]!;
      this.entries[this.head] = undefined as unknown as OplogEntry;
      this.head += 1;
      this.bytes -= gone.bytes;
      this.lostUpTo = gone.token;
      this.lostUpToTs = gone.ts;
    }
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }

  /** Drops every entry: any position before the newest write has lost its history. */
  loseHistory(): void {
    const newest = this.entries[this.entries.length - 1];
    this.lostUpTo = newest ? newest.token : tokenData(this.clock.current(), TokenKind.Event);
    this.lostUpToTs = newest ? newest.ts : this.clock.current();
    this.entries = [];
    this.head = 0;
    this.bytes = 0;
  }

  /** Marks every position before `ts` as lost (the history of a previous incarnation). */
  markLostBefore(ts: { t: number; i: number }): void {
    const token = tokenData(ts, TokenKind.Event);
    if (this.lostUpTo === undefined || token > this.lostUpTo) this.lostUpTo = token;
    const before = new TimestampValue({ t: ts.t, i: ts.i });
    if (this.lostUpToTs === undefined || compareTs(before, this.lostUpToTs) > 0) this.lostUpToTs = before;
  }

  /**
   * True when an entry written after `ts` may be missing from this log (it fell off, or `ts` is older than the
   * log itself): a member that has applied up to `ts` cannot catch up from here and needs a full resync.
   */
  lostEntriesAfter(ts: Timestamp): boolean {
    if (this.lostUpToTs !== undefined && compareTs(ts, this.lostUpToTs) < 0) return true;
    return this.originTs !== undefined && compareTs(ts, this.originTs) < 0;
  }

  /**
   * True when events after `position` may have fallen off the log, or when `position` is older than the
   * log itself (a token from before this log began, e.g. another deployment's, or a made-up one).
   */
  historyLostAfter(position: string): boolean {
    if (this.lostUpTo !== undefined && position < this.lostUpTo) return true;
    return this.origin !== undefined && timeOf(position) < timeOf(this.origin);
  }

  /**
   * Whether the event token `token` (or, with `invalidate`, the invalidate after a drop at its time) was
   * issued by this log: 'issued', 'not-issued', or 'unknown' while nothing at or after its time is
   * visible yet. Tokens of entries that fell off the log count as issued (history loss decides for them).
   */
  resumeTokenStatus(
    token: string,
    invalidate: boolean,
  ): { status: 'issued' | 'unknown' } | { status: 'not-issued'; next: OplogEntry } {
    if (this.lostUpTo !== undefined && token <= this.lostUpTo) return { status: 'issued' };
    for (const entry of this.visibleFrom(token)) {
      const sameTime = timeOf(entry.token) === timeOf(token);
      const issued = invalidate
        ? sameTime && (entry.op === 'drop' || entry.op === 'dropDatabase')
        : entry.token === token;
      return issued ? { status: 'issued' } : { status: 'not-issued', next: entry };
    }
    return { status: 'unknown' };
  }

  /** Token of the newest entry, or a high-water mark at the current cluster time when the log is empty. */
  latestToken(): string {
    const newest = this.entries[this.entries.length - 1];
    return newest && this.size > 0 ? newest.token : tokenData(this.clock.current(), TokenKind.Event);
  }

  /**
   * Entries change streams may see now whose timestamp is at or after `position`'s, oldest first.
   * (At-or-after, not after: a drop at the position's time may still owe its stream the invalidate.)
   */
  *visibleFrom(position: string): Generator<OplogEntry> {
    const now = Date.now();
    for (let i = this.firstIndexAtOrAfter(timeOf(position)); i < this.entries.length; i++) {
      const entry = this.entries[i]!;
      if (!this.isVisible(entry, now)) return;
      if (this.paused && (this.pausedAt === undefined || entry.token > this.pausedAt)) return;
      yield entry;
    }
  }

  /**
   * Where a new change stream without resume options starts: a high-water mark just after this member's last
   * applied write, as mongod starts one (so a write applied but not yet majority-committed is behind it and
   * never shown to it). A write held back by the event-delay or pause faults is still ahead of it. A high-water
   * mark names no write, so resuming from it works on any member, whatever was rolled back.
   */
  startPosition(): string {
    const now = Date.now();
    for (let i = this.entries.length - 1; i >= this.head; i--) {
      const entry = this.entries[i]!;
      const delivered =
        this.isDelivered(entry, now) && !(this.paused && (this.pausedAt === undefined || entry.token > this.pausedAt));
      if (delivered) return tokenData({ t: entry.ts.t, i: entry.ts.i + 1 }, TokenKind.HighWaterMark);
      if (i === this.head) return tokenData(entry.ts, TokenKind.HighWaterMark);
    }
    return this.lostUpTo ?? tokenData(this.clock.current(), TokenKind.Event);
  }

  private firstIndexAtOrAfter(timePrefix: string): number {
    let lo = this.head;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (timeOf(this.entries[mid]!.token) < timePrefix) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private isVisible(entry: OplogEntry, now: number): boolean {
    return this.isDelivered(entry, now) && this.commitPoint !== undefined && compareTs(entry.ts, this.commitPoint) <= 0;
  }

  /** Past the event-delay fault (regardless of majority commit). */
  private isDelivered(entry: OplogEntry, now: number): boolean {
    return entry.appliedAt + this.eventDelayMs <= now;
  }

  /** Sets the delay for every entry not yet visible too (a shorter delay releases them sooner). */
  setEventDelay(ms: number): void {
    this.eventDelayMs = Math.max(0, ms);
    this.notify();
    this.scheduleNextVisibility();
  }

  private scheduleNextVisibility(): void {
    const now = Date.now();
    const pending = this.entries.slice(this.head).find((e) => !this.isDelivered(e, now));
    if (pending) this.notifyAt(pending.appliedAt + this.eventDelayMs - now);
  }

  pause(): void {
    if (this.paused) return;
    this.paused = true;
    const now = Date.now();
    let horizon: string | undefined;
    for (let i = this.head; i < this.entries.length && this.isVisible(this.entries[i]!, now); i++)
      horizon = this.entries[i]!.token;
    this.pausedAt = horizon;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.pausedAt = undefined;
    this.notify();
    this.scheduleNextVisibility();
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** Calls `listener` whenever new entries may have become visible; returns an unsubscribe function. */
  onVisible(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }

  private notifyAt(delayMs: number): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.notify();
    }, delayMs + 1);
    timer.unref();
    this.timers.add(timer);
  }

  setBounds(bounds: OplogBounds): void {
    this.bounds = bounds;
    this.truncate();
  }

  close(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.notify();
    this.listeners.clear();
    this.appendListeners.clear();
  }
}
