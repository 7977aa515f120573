import { Timestamp, type Document } from 'bson';
import type { StandInCounters } from './counters.js';
import { badValue, CommandError, ErrorCodes } from './errors.js';
import type { Oplog, OplogEntry } from './oplog.js';
import { compileFilter } from './query/match.js';
import { compileProjection } from './query/project.js';
import { isPlainObject, valuesEqual } from './query/values.js';
import { parseToken, tokenAt, tokenData, TokenKind, type ResumeToken } from './resume-token.js';
import type { ServerCursor } from './cursors.js';
import { bsonSize, MAX_BSON_OBJECT_SIZE, type Store } from './store.js';

/** mongod's internal object limit: a change event may exceed a user document by this much before failing. */
export const MAX_EVENT_SIZE = MAX_BSON_OBJECT_SIZE + 16 * 1024;
/** mongod's default wait for an awaitData getMore that carries no maxTimeMS. */
export const DEFAULT_AWAIT_MS = 1000;

type FullDocumentMode = 'default' | 'updateLookup' | 'whenAvailable' | 'required';
type BeforeChangeMode = 'off' | 'whenAvailable' | 'required';
type Stage = (event: Document) => Document | undefined;

const INTERNAL_DATABASES = new Set(['admin', 'config', 'local']);

export interface ChangeStreamScope {
  db: string;
  /** Absent for database- and cluster-level streams. */
  coll?: string;
  allChangesForCluster: boolean;
}

export interface ChangeStreamDeps {
  oplog: Oplog;
  store: Store;
  counters: StandInCounters;
}

interface Emitted {
  token: string;
  event: Document;
  invalidates: boolean;
}

/** mongod labels the change-stream errors no resume can fix, so drivers give up instead of retrying. */
const NON_RESUMABLE = { errorLabels: ['NonResumableChangeStreamError'] };

const historyLost = () =>
  new CommandError(
    ErrorCodes.ChangeStreamHistoryLost,
    'Resume of change stream was not possible, as the resume point may no longer be in the oplog.',
    NON_RESUMABLE,
  );

/** A resume token within the oplog's range that names no write: mongod's ensure-resume-token-present check. */
const resumeTokenNotFound = (next: OplogEntry) =>
  new CommandError(
    ErrorCodes.ChangeStreamFatalError,
    `cannot resume stream; the resume token was not found. {_data: "${next.token}"}`,
    NON_RESUMABLE,
  );

/** A resumeAfter/startAfter token that must name a write the oplog really has (high-water marks need not). */
interface ResumeTokenToFind {
  data: string;
  invalidate: boolean;
}

/** A parsed `$changeStream` stage plus the stages after it. */
export class ChangeStreamDefinition {
  readonly fullDocument: FullDocumentMode;
  readonly fullDocumentBeforeChange: BeforeChangeMode;
  readonly startPosition: string;
  readonly resumed: boolean;
  readonly tokenToFind: ResumeTokenToFind | undefined;
  readonly stages: Stage[];

  constructor(
    readonly scope: ChangeStreamScope,
    stageSpec: Document,
    following: Document[],
    deps: ChangeStreamDeps,
  ) {
    const fullDocument = stageSpec.fullDocument ?? 'default';
    if (!['default', 'updateLookup', 'whenAvailable', 'required'].includes(fullDocument)) {
      throw badValue(`unknown fullDocument mode '${String(fullDocument)}'`);
    }
    const beforeChange = stageSpec.fullDocumentBeforeChange ?? 'off';
    if (!['off', 'whenAvailable', 'required'].includes(beforeChange)) {
      throw badValue(`unknown fullDocumentBeforeChange mode '${String(beforeChange)}'`);
    }
    this.fullDocument = fullDocument;
    this.fullDocumentBeforeChange = beforeChange;
    const resumeOptions = ['resumeAfter', 'startAfter', 'startAtOperationTime'].filter(
      (k) => stageSpec[k] !== undefined,
    );
    if (resumeOptions.length > 1) {
      throw new CommandError(40674, 'Only one type of resume option is allowed, but multiple were found.', {
        codeName: 'Location40674',
      });
    }
    this.resumed = resumeOptions.length === 1;
    if (stageSpec.resumeAfter !== undefined || stageSpec.startAfter !== undefined) {
      const token = parseToken(stageSpec.resumeAfter ?? stageSpec.startAfter);
      if (stageSpec.resumeAfter !== undefined && token.kind === TokenKind.Invalidate) {
        throw new CommandError(
          ErrorCodes.InvalidResumeToken,
          "Attempting to resume a change stream using 'resumeAfter' is not allowed from an invalidate notification; use 'startAfter' instead.",
        );
      }
      this.startPosition = token.data;
      this.tokenToFind =
        token.kind === TokenKind.HighWaterMark
          ? undefined
          : { data: token.data, invalidate: token.kind === TokenKind.Invalidate };
    } else if (stageSpec.startAtOperationTime !== undefined) {
      const ts = stageSpec.startAtOperationTime as unknown;
      if (!(ts instanceof Timestamp) && (ts as { _bsontype?: string })?._bsontype !== 'Timestamp') {
        throw new CommandError(ErrorCodes.TypeMismatch, 'startAtOperationTime must be a timestamp');
      }
      this.startPosition = tokenData(ts as Timestamp, TokenKind.HighWaterMark);
    } else {
      this.startPosition = deps.oplog.startPosition();
    }
    if (deps.oplog.historyLostAfter(this.startPosition)) {
      deps.counters.historyLost += 1;
      throw historyLost();
    }
    this.stages = following.map(compileStage);
  }
}

function compileStage(stage: Document): Stage {
  const [name, arg] = Object.entries(stage)[0] ?? [];
  switch (name) {
    case '$match': {
      const matcher = compileFilter(arg);
      return (event) => (matcher(event) ? event : undefined);
    }
    case '$project': {
      const project = compileProjection(arg);
      return (event) => project(event);
    }
    case '$unset': {
      const fields = Array.isArray(arg) ? arg : [arg];
      const project = compileProjection(Object.fromEntries(fields.map((f) => [String(f), 0])));
      return (event) => project(event);
    }
    default:
      throw new CommandError(
        ErrorCodes.BadValue,
        `${String(name)} is not supported in a change stream pipeline by the stand-in (supported: $match, $project, $unset)`,
      );
  }
}

/**
 * A change stream's server-side cursor. Its position is a resume token: everything up to it has been
 * delivered (or filtered out). Reading scans the visible oplog after the position, shapes each entry into
 * the events MongoDB would emit for this stream's scope, and runs the user's stages over them.
 */
export class ChangeStreamCursor implements ServerCursor {
  readonly kind = 'changeStream' as const;
  lastUsed = Date.now();
  position: string;
  invalidated = false;
  private closed = false;
  private wakeUp: (() => void) | undefined;
  /** Set until the resume token has been seen in the oplog (checked on each read until it can be decided). */
  private tokenToFind: ResumeTokenToFind | undefined;

  constructor(
    readonly id: number,
    readonly ns: string,
    private readonly definition: ChangeStreamDefinition,
    private readonly deps: ChangeStreamDeps,
  ) {
    this.position = definition.startPosition;
    this.tokenToFind = definition.tokenToFind;
  }

  get postBatchResumeToken(): ResumeToken {
    return { _data: this.position };
  }

  /** Reads what is visible now, without waiting. */
  readBatch(batchSize: number | undefined): Document[] {
    if (this.deps.oplog.historyLostAfter(this.position)) {
      this.deps.counters.historyLost += 1;
      throw historyLost();
    }
    if (this.tokenToFind) this.verifyResumeToken(this.tokenToFind);
    const limit = batchSize && batchSize > 0 ? batchSize : Number.POSITIVE_INFINITY;
    const batch: Document[] = [];
    let bytes = 0;
    scan: for (const entry of this.deps.oplog.visibleFrom(this.position)) {
      for (const emitted of this.eventsFor(entry)) {
        if (emitted.token <= this.position) continue;
        const shaped = this.applyStages(emitted.event);
        if (shaped) {
          const size = bsonSize(shaped);
          if (size > MAX_EVENT_SIZE) {
            this.deps.counters.eventsTooLarge += 1;
            throw new CommandError(
              ErrorCodes.BSONObjectTooLarge,
              `Executor error during getMore :: caused by :: BSONObjectTooLarge: BSONObj size: ${size} (0x${size.toString(16).toUpperCase()}) is invalid. Size must be between 0 and ${MAX_EVENT_SIZE}(16MB) First element: _id: { _data: "${emitted.token}" }`,
            );
          }
          if (batch.length > 0 && bytes + size > MAX_BSON_OBJECT_SIZE) break scan;
          batch.push(shaped);
          bytes += size;
        }
        this.position = emitted.token;
        if (emitted.invalidates) {
          this.invalidated = true;
          break scan;
        }
        if (batch.length >= limit) break scan;
      }
      if (entry.token > this.position) this.position = entry.token;
    }
    this.deps.counters.eventsDelivered += batch.length;
    return batch;
  }

  /**
   * Like mongod, a stream resumed from an event token must meet that very event before any later one;
   * reaching a later write first means the token was never issued here (ChangeStreamFatalError, 280).
   */
  private verifyResumeToken(token: ResumeTokenToFind): void {
    const found = this.deps.oplog.resumeTokenStatus(token.data, token.invalidate);
    if (found.status === 'unknown') return;
    if (found.status === 'not-issued') {
      this.deps.counters.resumeTokensNotFound += 1;
      throw resumeTokenNotFound(found.next);
    }
    this.tokenToFind = undefined;
  }

  /** awaitData semantics: returns as soon as events exist, or an empty batch once `maxTimeMS` has passed. */
  async awaitBatch(batchSize: number | undefined, maxTimeMS: number, signal: AbortSignal): Promise<Document[]> {
    const deadline = Date.now() + maxTimeMS;
    for (;;) {
      const batch = this.readBatch(batchSize);
      if (batch.length > 0 || this.invalidated || this.closed || signal.aborted) return batch;
      const remaining = deadline - Date.now();
      if (remaining <= 0) return batch;
      await this.sleepUntilVisible(remaining, signal);
    }
  }

  private sleepUntilVisible(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        unsubscribe();
        signal.removeEventListener('abort', done);
        this.wakeUp = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      const unsubscribe = this.deps.oplog.onVisible(done);
      signal.addEventListener('abort', done, { once: true });
      this.wakeUp = done;
    });
  }

  private applyStages(event: Document): Document | undefined {
    let current: Document | undefined = event;
    for (const stage of this.definition.stages) {
      current = stage(current);
      if (!current) return undefined;
    }
    if (!isPlainObject(current._id) || !valuesEqual(current._id, event._id)) {
      throw new CommandError(
        ErrorCodes.ChangeStreamFatalError,
        'Encountered an event whose _id field, which contains the resume token, was modified by the pipeline. Modifying the _id field of an event makes it impossible to resume the stream from that point. Only transformations that retain the unmodified _id field are allowed.',
      );
    }
    return current;
  }

  private inScope(entry: OplogEntry): boolean {
    const { scope } = this.definition;
    if (scope.allChangesForCluster) return !INTERNAL_DATABASES.has(entry.db) && !entry.coll?.startsWith('system.');
    if (entry.db !== scope.db) return false;
    if (scope.coll !== undefined) return entry.coll === scope.coll;
    return !entry.coll?.startsWith('system.');
  }

  /** The events one oplog entry produces for this stream (zero, one, or an event plus its invalidate). */
  private eventsFor(entry: OplogEntry): Emitted[] {
    if (entry.op === 'noop' || !this.inScope(entry)) return [];
    const { scope } = this.definition;
    const base = (kind: TokenKind, operationType: string): Document => ({
      _id: tokenAt(entry.ts, kind),
      operationType,
      clusterTime: entry.ts,
      wallTime: entry.wall,
    });
    const ns = { db: entry.db, coll: entry.coll };
    const invalidate = (): Emitted => ({
      token: tokenData(entry.ts, TokenKind.Invalidate),
      event: base(TokenKind.Invalidate, 'invalidate'),
      invalidates: true,
    });
    const one = (event: Document): Emitted => ({ token: entry.token, event, invalidates: false });
    switch (entry.op) {
      case 'insert':
        return [
          one({ ...base(TokenKind.Event, 'insert'), fullDocument: entry.document, ns, documentKey: entry.documentKey }),
        ];
      case 'update': {
        const event: Document = {
          ...base(TokenKind.Event, 'update'),
          ns,
          documentKey: entry.documentKey,
          updateDescription: entry.updateDescription,
        };
        const full = this.fullDocumentFor(entry);
        if (full !== undefined) event.fullDocument = full;
        this.addBeforeChange(event, entry);
        return [one(event)];
      }
      case 'replace': {
        const event: Document = {
          ...base(TokenKind.Event, 'replace'),
          fullDocument: entry.document,
          ns,
          documentKey: entry.documentKey,
        };
        this.addBeforeChange(event, entry);
        return [one(event)];
      }
      case 'delete': {
        const event: Document = { ...base(TokenKind.Event, 'delete'), ns, documentKey: entry.documentKey };
        this.addBeforeChange(event, entry);
        return [one(event)];
      }
      case 'drop': {
        const drop = one({ ...base(TokenKind.Event, 'drop'), ns });
        return scope.coll !== undefined ? [drop, invalidate()] : [drop];
      }
      case 'dropDatabase': {
        if (scope.coll !== undefined) return [];
        const event = one({ ...base(TokenKind.Event, 'dropDatabase'), ns: { db: entry.db } });
        return scope.allChangesForCluster ? [event] : [event, invalidate()];
      }
      default:
        return [];
    }
  }

  private fullDocumentFor(entry: OplogEntry): Document | null | undefined {
    switch (this.definition.fullDocument) {
      case 'updateLookup':
        return this.deps.store.collection(entry.db, entry.coll!)?.get(entry.documentKey?._id) ?? null;
      case 'whenAvailable':
      case 'required':
        return entry.document ?? null;
      default:
        return undefined;
    }
  }

  private addBeforeChange(event: Document, entry: OplogEntry): void {
    if (this.definition.fullDocumentBeforeChange === 'off') return;
    event.fullDocumentBeforeChange = entry.preImage ?? null;
  }

  close(): void {
    this.closed = true;
    this.wakeUp?.();
  }
}
