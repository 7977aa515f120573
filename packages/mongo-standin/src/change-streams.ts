import { Timestamp, type Document } from 'bson';
import {
  eventsFor,
  type BeforeChangeMode,
  type ChangeStreamScope,
  type EventOptions,
  type FullDocumentMode,
} from './change-events.js';
import type { StandInCounters } from './counters.js';
import { CommandError, ErrorCodes } from './errors.js';
import type { Oplog } from './oplog.js';
import { compileDocumentStage, stageParts, unrecognizedStage, type DocumentStage } from './pipeline.js';
import { documentVariables, rootScope, type Variables } from './query/expressions.js';
import { isPlainObject, valuesEqual } from './query/values.js';
import { eventTokenData, parseToken, tokenData, TokenKind, type ResumeToken } from './resume-token.js';
import type { ServerCursor } from './cursors.js';
import { bsonSize, MAX_BSON_OBJECT_SIZE, type Store } from './store.js';
import { decodeKeyString } from './keystring.js';

export type { ChangeStreamScope } from './change-events.js';

/** mongod's internal object limit: a change event may exceed a user document by this much before failing. */
export const MAX_EVENT_SIZE = MAX_BSON_OBJECT_SIZE + 16 * 1024;
/** mongod's default wait for an awaitData getMore that carries no maxTimeMS. */
export const DEFAULT_AWAIT_MS = 1000;

export interface ChangeStreamDeps {
  oplog: Oplog;
  store: Store;
  counters: StandInCounters;
}

/** The `$changeStream` options mongod 7.0 knows (IDL: document_source_change_stream.idl). */
const STAGE_OPTIONS = new Set([
  'fullDocument',
  'fullDocumentBeforeChange',
  'resumeAfter',
  'startAfter',
  'startAtOperationTime',
  'allChangesForCluster',
  'showExpandedEvents',
  'showSystemEvents',
  'showRawUpdateDescription',
  'allowToRunOnConfigDB',
  'allowToRunOnSystemNS',
]);

/** Stages allowed after $changeStream (https://www.mongodb.com/docs/manual/changeStreams/#modify-change-stream-output). */
const ALLOWED_STAGES = new Set([
  '$match',
  '$project',
  '$addFields',
  '$set',
  '$unset',
  '$replaceRoot',
  '$replaceWith',
  '$redact',
  '$changeStreamSplitLargeEvent',
]);

/** Stages the aggregation language has but a change stream may not use (mongod: IllegalOperation). */
const KNOWN_STAGES = new Set([
  '$group',
  '$sort',
  '$skip',
  '$limit',
  '$count',
  '$unwind',
  '$lookup',
  '$facet',
  '$out',
  '$merge',
  '$sample',
  '$sortByCount',
  '$bucket',
  '$bucketAuto',
  '$graphLookup',
  '$geoNear',
  '$indexStats',
  '$collStats',
  '$documents',
  '$unionWith',
  '$densify',
  '$fill',
  '$setWindowFields',
  '$changeStream',
]);

const historyLost = () =>
  new CommandError(
    ErrorCodes.ChangeStreamHistoryLost,
    'Resume of change stream was not possible, as the resume point may no longer be in the oplog.',
  );

/** The stream reached an event after the client's token without meeting it: mongod's ensure-resume-token check. */
const resumeTokenNotFound = (found: string) =>
  new CommandError(
    ErrorCodes.ChangeStreamFatalError,
    `cannot resume stream; the resume token was not found. {_data: "${found}"}`,
  );

/** A resumeAfter/startAfter token that must name an event this stream really has (high-water marks need not). */
interface ResumeTokenToFind {
  data: string;
}

function enumOption<T extends string>(spec: Document, field: string, allowed: readonly T[], fallback: T): T {
  const value = spec[field];
  if (value === undefined) return fallback;
  if (typeof value !== 'string') {
    throw new CommandError(
      ErrorCodes.TypeMismatch,
      `BSON field '$changeStream.${field}' is the wrong type '${typeof value}', expected type 'string'`,
    );
  }
  if (!allowed.includes(value as T)) {
    throw new CommandError(
      ErrorCodes.BadValue,
      `Enumeration value '${value}' for field '$changeStream.${field}' is not a valid value.`,
    );
  }
  return value as T;
}

/** A parsed `$changeStream` stage plus the stages after it. */
export class ChangeStreamDefinition {
  readonly options: EventOptions;
  readonly startPosition: string;
  readonly resumed: boolean;
  readonly tokenToFind: ResumeTokenToFind | undefined;
  readonly stages: DocumentStage[];
  readonly splitLargeEvents: boolean;
  readonly variables: Variables;

  constructor(scope: ChangeStreamScope, stageSpec: Document, following: Document[], deps: ChangeStreamDeps) {
    for (const [key, value] of Object.entries(stageSpec)) {
      if (!STAGE_OPTIONS.has(key)) {
        throw new CommandError(40415, `BSON field '$changeStream.${key}' is an unknown field.`, {
          codeName: 'Location40415',
        });
      }
      if (
        ['showExpandedEvents', 'allChangesForCluster', 'showSystemEvents'].includes(key) &&
        typeof value !== 'boolean'
      ) {
        throw new CommandError(
          ErrorCodes.TypeMismatch,
          `BSON field '$changeStream.${key}' is the wrong type '${typeof value}', expected type 'bool'`,
        );
      }
    }
    const fullDocument = enumOption<FullDocumentMode>(
      stageSpec,
      'fullDocument',
      ['default', 'updateLookup', 'whenAvailable', 'required'],
      'default',
    );
    const fullDocumentBeforeChange = enumOption<BeforeChangeMode>(
      stageSpec,
      'fullDocumentBeforeChange',
      ['off', 'whenAvailable', 'required'],
      'off',
    );
    this.options = {
      scope,
      fullDocument,
      fullDocumentBeforeChange,
      showExpandedEvents: stageSpec.showExpandedEvents === true,
      lookup: (db, coll, id) => deps.store.collection(db, coll)?.get(id),
    };
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
      const field = stageSpec.resumeAfter !== undefined ? 'resumeAfter' : 'startAfter';
      const token = parseToken(stageSpec[field], field);
      if (field === 'resumeAfter' && token.kind === TokenKind.Invalidate) {
        throw new CommandError(
          ErrorCodes.InvalidResumeToken,
          "Attempting to resume a change stream using 'resumeAfter' is not allowed from an invalidate notification.",
        );
      }
      this.startPosition = token.data;
      this.tokenToFind = token.kind === TokenKind.HighWaterMark ? undefined : { data: token.data };
    } else if (stageSpec.startAtOperationTime !== undefined) {
      const ts = stageSpec.startAtOperationTime as unknown;
      if ((ts as { _bsontype?: string })?._bsontype !== 'Timestamp') {
        throw new CommandError(
          ErrorCodes.TypeMismatch,
          "BSON field '$changeStream.startAtOperationTime' is the wrong type, expected type 'timestamp'",
        );
      }
      this.startPosition = tokenData(ts as Timestamp, TokenKind.HighWaterMark);
    } else {
      this.startPosition = deps.oplog.startPosition();
    }
    if (deps.oplog.historyLostAfter(this.startPosition)) {
      deps.counters.historyLost += 1;
      throw historyLost();
    }
    this.variables = { NOW: new Date() };
    const scopeNames = rootScope();
    const stages: DocumentStage[] = [];
    let split = false;
    following.forEach((stage, index) => {
      const [name, arg] = stageParts(stage);
      if (!ALLOWED_STAGES.has(name)) {
        if (KNOWN_STAGES.has(name) || name === '$changeStream') {
          throw new CommandError(ErrorCodes.IllegalOperation, `${name} is not permitted in a $changeStream pipeline`);
        }
        throw unrecognizedStage(name);
      }
      if (name === '$changeStreamSplitLargeEvent') {
        if (!isPlainObject(arg) || Object.keys(arg).length > 0) {
          throw new CommandError(7182801, '$changeStreamSplitLargeEvent accepts no arguments', {
            codeName: 'Location7182801',
          });
        }
        if (index !== following.length - 1) {
          throw new CommandError(7182802, '$changeStreamSplitLargeEvent must be the last stage in the pipeline', {
            codeName: 'Location7182802',
          });
        }
        split = true;
        return;
      }
      stages.push(compileDocumentStage(name, arg, scopeNames)!);
    });
    this.stages = stages;
    this.splitLargeEvents = split;
  }
}

/**
 * A change stream's server-side cursor. Its position is a resume token: everything up to it has been
 * delivered (or filtered out). Reading scans the visible oplog after the position, shapes each entry into
 * the events MongoDB would emit for this stream, and runs the user's stages over them.
 */
export class ChangeStreamCursor implements ServerCursor {
  readonly kind = 'changeStream' as const;
  lastUsed = Date.now();
  /** Every event with a token up to here has been delivered or filtered out. */
  position: string;
  invalidated = false;
  private closed = false;
  private wakeUp: (() => void) | undefined;
  /** Set until the resume token has been met (checked on each read until it can be decided). */
  private tokenToFind: ResumeTokenToFind | undefined;
  /** The postBatchResumeToken: the last event returned, or a high-water mark of what was scanned since. */
  private resumeToken: string;

  constructor(
    readonly id: number,
    readonly ns: string,
    private readonly definition: ChangeStreamDefinition,
    private readonly deps: ChangeStreamDeps,
  ) {
    this.position = definition.startPosition;
    this.resumeToken = definition.startPosition;
    this.tokenToFind = definition.tokenToFind;
  }

  get postBatchResumeToken(): ResumeToken {
    return { _data: this.resumeToken };
  }

  /** Reads what is visible now, without waiting. */
  readBatch(batchSize: number | undefined): Document[] {
    if (this.deps.oplog.historyLostAfter(this.position)) {
      this.deps.counters.historyLost += 1;
      throw historyLost();
    }
    const limit = batchSize && batchSize > 0 ? batchSize : Number.POSITIVE_INFINITY;
    const batch: Document[] = [];
    let bytes = 0;
    scan: for (const entry of this.deps.oplog.visibleFrom(this.position)) {
      let returnedFromEntry = false;
      for (const emitted of eventsFor(entry, this.definition.options)) {
        // Resuming inside a split event: its remaining fragments are still owed.
        const partlyDelivered = isFragmentTokenOf(this.position, emitted.token);
        if (emitted.token <= this.position && !partlyDelivered) {
          if (this.tokenToFind && emitted.token === this.tokenToFind.data) this.tokenToFind = undefined;
          continue;
        }
        if (this.tokenToFind && partlyDelivered && this.tokenToFind.data === this.position)
          this.tokenToFind = undefined;
        if (this.tokenToFind) this.surpassed(emitted.token);
        const shaped = this.applyStages(emitted.event);
        if (shaped) {
          // Fragments of a split event go out one by one, as many as fit the 16 MiB batch.
          for (const fragment of this.fragmentsOf(shaped, emitted.token)) {
            if (fragment.token <= this.position) continue;
            if (batch.length > 0 && bytes + fragment.size > MAX_BSON_OBJECT_SIZE) break scan;
            batch.push(fragment.event);
            bytes += fragment.size;
            this.position = fragment.token;
            this.resumeToken = fragment.token;
          }
          returnedFromEntry = true;
        }
        if (emitted.token > this.position) this.position = emitted.token;
        if (emitted.invalidates) {
          this.invalidated = true;
          break scan;
        }
        if (batch.length >= limit) break scan;
      }
      if (entry.token > this.position) this.position = entry.token;
      if (!returnedFromEntry) {
        const mark = tokenData(entry.ts, TokenKind.HighWaterMark);
        if (mark > this.resumeToken) this.resumeToken = mark;
      }
    }
    this.deps.counters.eventsDelivered += batch.length;
    return batch;
  }

  /**
   * Like mongod, a stream resumed from an event token must meet that very event before any later one;
   * reaching a later event first means the token was never issued here (ChangeStreamFatalError, 280).
   */
  private surpassed(found: string): void {
    this.deps.counters.resumeTokensNotFound += 1;
    throw resumeTokenNotFound(found);
  }

  /**
   * An event as the client receives it: whole, or (with $changeStreamSplitLargeEvent) in fragments of at most
   * 16 MiB, each with its own resume token (mongod's change_stream_split_event_helpers.cpp). Without the
   * split stage, an event over 16 MiB + 16 KiB fails the getMore with BSONObjectTooLarge (10334), as mongod's.
   */
  private fragmentsOf(event: Document, token: string): Array<{ event: Document; token: string; size: number }> {
    const size = bsonSize(event);
    if (this.definition.splitLargeEvents && size > MAX_BSON_OBJECT_SIZE) return splitEvent(event, token);
    if (size > MAX_EVENT_SIZE) {
      this.deps.counters.eventsTooLarge += 1;
      throw new CommandError(
        ErrorCodes.BSONObjectTooLarge,
        `Executor error during getMore :: caused by :: BSONObjectTooLarge: BSONObj size: ${size} (0x${size.toString(16).toUpperCase()}) is invalid. Size must be between 0 and ${MAX_EVENT_SIZE}(16MB) First element: _id: { _data: "${token}" }`,
      );
    }
    return [{ event, token, size }];
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
    if (this.definition.stages.length === 0) return event;
    let current: Document | undefined = event;
    for (const stage of this.definition.stages) {
      current = stage(current, documentVariables(current, this.definition.variables));
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

  close(): void {
    this.closed = true;
    this.wakeUp?.();
  }
}

/** Whether `position` is the token of a fragment of the event whose token is `token`. */
function isFragmentTokenOf(position: string, token: string): boolean {
  return position.length > token.length && position.startsWith(token.slice(0, -2));
}

/** Splits an event into fragments: fields smallest first, as many as fit in each (mongod's greedy strategy). */
function splitEvent(event: Document, token: string): Array<{ event: Document; token: string; size: number }> {
  const fields = Object.entries(event)
    .filter(([key]) => key !== '_id')
    .map(([key, value]) => ({ key, value, size: bsonSize({ [key]: value }) - 5 }))
    .sort((a, b) => a.size - b.size || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const base = tokenIdentity(token);
  const fragments: Array<{ event: Document; token: string; size: number }> = [];
  let i = 0;
  while (i < fields.length) {
    const fragmentToken = eventTokenData(base.ts, { ...base.identity, fragmentNum: fragments.length });
    const fragment: Document = {
      _id: { _data: fragmentToken },
      splitEvent: { fragment: fragments.length + 1, of: 0 },
    };
    let size = bsonSize(fragment);
    do {
      fragment[fields[i]!.key] = fields[i]!.value;
      size += fields[i]!.size;
      i += 1;
    } while (i < fields.length && size + fields[i]!.size <= MAX_BSON_OBJECT_SIZE);
    if (size > MAX_BSON_OBJECT_SIZE) {
      throw new CommandError(
        7182500,
        `Splitting change event failed: fragment size ${size} is greater than maximum allowed fragment size ${MAX_BSON_OBJECT_SIZE}`,
        { codeName: 'Location7182500' },
      );
    }
    fragments.push({ event: fragment, token: fragmentToken, size });
  }
  for (const fragment of fragments) (fragment.event.splitEvent as Document).of = fragments.length;
  return fragments;
}

/** The time and identity of an event token (to derive its fragments' tokens). */
function tokenIdentity(token: string): {
  ts: Timestamp;
  identity: Parameters<typeof eventTokenData>[1];
} {
  const [ts, , , , fromInvalidate, uuid, eventIdentifier] = decodeKeyString(token) as [
    Timestamp,
    number,
    number,
    number,
    boolean,
    Parameters<typeof eventTokenData>[1]['uuid'] | null,
    Document,
  ];
  return {
    ts,
    identity: {
      uuid: uuid ?? undefined,
      operationType: String(eventIdentifier.operationType),
      documentKey: eventIdentifier.documentKey as Document | undefined,
      operationDescription: eventIdentifier.operationDescription as Document | undefined,
      fromInvalidate,
    },
  };
}
