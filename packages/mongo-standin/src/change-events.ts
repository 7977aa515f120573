import { Long, type Document, type Timestamp } from 'bson';
import { CommandError, ErrorCodes } from './errors.js';
import type { OplogEntry } from './oplog.js';
import { eventTokenData, tokenData, TokenKind, type EventIdentity } from './resume-token.js';

/**
 * What change streams make of oplog entries (mongod's change_stream_event_transform.cpp and
 * https://www.mongodb.com/docs/manual/reference/change-events/): which events an entry produces for a stream
 * of a given scope and options, their fields in mongod's order, and their resume tokens.
 */

export type FullDocumentMode = 'default' | 'updateLookup' | 'whenAvailable' | 'required';
export type BeforeChangeMode = 'off' | 'whenAvailable' | 'required';

export interface ChangeStreamScope {
  db: string;
  /** Absent for database- and cluster-level streams. */
  coll?: string;
  allChangesForCluster: boolean;
}

export interface EventOptions {
  scope: ChangeStreamScope;
  fullDocument: FullDocumentMode;
  fullDocumentBeforeChange: BeforeChangeMode;
  showExpandedEvents: boolean;
  /** The current version of a document, for `fullDocument: 'updateLookup'`. */
  lookup: (db: string, coll: string, id: unknown) => Document | undefined;
}

/** One event an entry produces for a stream, with its resume token. */
export interface Emitted {
  token: string;
  event: Document;
  /** The event ends the stream (an invalidate). */
  invalidates: boolean;
}

const INTERNAL_DATABASES = new Set(['admin', 'config', 'local']);

/** The identity (for its resume token) of the event an entry produces, if it produces one. */
function identityOf(fields: Omit<OplogEntry, 'ts' | 'token' | 'wall' | 'appliedAt'>): EventIdentity | undefined {
  switch (fields.op) {
    case 'insert':
    case 'update':
    case 'replace':
    case 'delete':
      return { uuid: fields.uuid, operationType: fields.op, documentKey: fields.documentKey };
    case 'drop':
      return { uuid: fields.uuid, operationType: 'drop' };
    case 'dropDatabase':
      return { operationType: 'dropDatabase' };
    case 'rename':
      return { uuid: fields.uuid, operationType: 'rename', operationDescription: renameDescription(fields) };
    case 'noop':
      return fields.ddl
        ? {
            uuid: fields.uuid,
            operationType: fields.ddl.operationType,
            operationDescription: fields.ddl.operationDescription,
          }
        : undefined;
    default:
      return undefined;
  }
}

/** The token of the (first) event an entry produces: the entry's position in the log. */
export function entryToken(ts: Timestamp, fields: Omit<OplogEntry, 'ts' | 'token' | 'wall' | 'appliedAt'>): string {
  const identity = identityOf(fields);
  return identity ? eventTokenData(ts, identity) : tokenData(ts, TokenKind.Event);
}

function renameDescription(fields: Pick<OplogEntry, 'to' | 'dropTarget'>): Document {
  const description: Document = { to: fields.to };
  if (fields.dropTarget !== undefined) description.dropTarget = fields.dropTarget;
  return description;
}

/** Whether an entry concerns a stream of this scope at all. */
function inScope(entry: OplogEntry, scope: ChangeStreamScope): boolean {
  const system = (coll: string | undefined) => coll?.startsWith('system.') === true;
  if (entry.op === 'rename') {
    const target = entry.to!;
    if (scope.coll !== undefined) {
      return (
        (entry.db === scope.db && entry.coll === scope.coll) || (target.db === scope.db && target.coll === scope.coll)
      );
    }
    if (scope.allChangesForCluster) return !INTERNAL_DATABASES.has(entry.db);
    return entry.db === scope.db || target.db === scope.db;
  }
  if (scope.allChangesForCluster) return !INTERNAL_DATABASES.has(entry.db) && !system(entry.coll);
  if (entry.db !== scope.db) return false;
  if (scope.coll !== undefined) return entry.coll === scope.coll;
  return !system(entry.coll);
}

const noImage = (which: 'pre' | 'post', event: Document) =>
  new CommandError(
    ErrorCodes.NoMatchingDocument,
    `Change stream was configured to require a ${which}-image for all ${which === 'pre' ? 'update, delete and replace' : 'update'} events, but the ${which}-image was not found for event: ${JSON.stringify({ operationType: event.operationType, ns: event.ns, clusterTime: event.clusterTime })}`,
  );

/** The events one oplog entry produces for a stream (none, one, or an event and the invalidate it causes). */
export function eventsFor(entry: OplogEntry, options: EventOptions): Emitted[] {
  if (entry.op === 'noop' && !entry.ddl) return [];
  if (!inScope(entry, options.scope)) return [];
  const { scope, showExpandedEvents } = options;
  if (entry.ddl && !showExpandedEvents) return [];
  const identity = identityOf(entry)!;
  const event: Document = { _id: { _data: entry.token }, operationType: identity.operationType, clusterTime: entry.ts };
  if (showExpandedEvents && entry.uuid !== undefined) event.collectionUUID = entry.uuid;
  event.wallTime = entry.wall;
  const ns: Document = entry.op === 'dropDatabase' ? { db: entry.db } : { db: entry.db, coll: entry.coll };
  const emitted: Emitted[] = [];
  const invalidate = () => {
    const token = eventTokenData(entry.ts, { ...identity, fromInvalidate: true });
    emitted.push({
      token,
      event: { _id: { _data: token }, operationType: 'invalidate', clusterTime: entry.ts, wallTime: entry.wall },
      invalidates: true,
    });
  };
  switch (entry.op) {
    case 'insert':
      event.fullDocument = entry.document;
      event.ns = ns;
      event.documentKey = entry.documentKey;
      break;
    case 'update': {
      const full = postImage(entry, event, options);
      if (full !== undefined) event.fullDocument = full;
      event.ns = ns;
      event.documentKey = entry.documentKey;
      event.updateDescription = updateDescriptionFor(entry, showExpandedEvents);
      addPreImage(entry, event, options);
      break;
    }
    case 'replace':
      event.fullDocument = entry.document;
      event.ns = ns;
      event.documentKey = entry.documentKey;
      addPreImage(entry, event, options);
      break;
    case 'delete':
      event.ns = ns;
      event.documentKey = entry.documentKey;
      addPreImage(entry, event, options);
      break;
    case 'drop':
      event.ns = ns;
      break;
    case 'rename':
      event.ns = ns;
      event.to = entry.to;
      if (showExpandedEvents) event.operationDescription = identity.operationDescription;
      break;
    case 'dropDatabase':
      event.ns = ns;
      break;
    case 'noop':
      event.ns = ns;
      event.operationDescription = entry.ddl!.operationDescription;
      if (entry.ddl!.stateBeforeChange) event.stateBeforeChange = entry.ddl!.stateBeforeChange;
      break;
  }
  if (entry.transaction) {
    event.lsid = entry.transaction.lsid;
    event.txnNumber = Long.fromNumber(entry.transaction.txnNumber);
  }
  emitted.unshift({ token: entry.token, event, invalidates: false });
  if (entry.op === 'drop' && scope.coll !== undefined) invalidate();
  if (entry.op === 'rename' && scope.coll !== undefined) invalidate();
  if (entry.op === 'dropDatabase' && scope.coll === undefined && !scope.allChangesForCluster) invalidate();
  return emitted;
}

function updateDescriptionFor(entry: OplogEntry, expanded: boolean): Document | undefined {
  const description = entry.updateDescription;
  if (!description) return undefined;
  const out: Document = {
    updatedFields: description.updatedFields,
    removedFields: description.removedFields,
    truncatedArrays: description.truncatedArrays ?? [],
  };
  if (expanded) out.disambiguatedPaths = description.disambiguatedPaths ?? {};
  return out;
}

/** fullDocument of an update event, per the stream's mode (undefined: no field). */
function postImage(entry: OplogEntry, event: Document, options: EventOptions): Document | null | undefined {
  switch (options.fullDocument) {
    case 'updateLookup':
      return options.lookup(entry.db, entry.coll!, entry.documentKey?._id) ?? null;
    case 'whenAvailable':
      return entry.imagesRecorded ? (entry.document ?? null) : null;
    case 'required':
      if (!entry.imagesRecorded || !entry.document) throw noImage('post', event);
      return entry.document;
    default:
      return undefined;
  }
}

/** fullDocumentBeforeChange, when the stream asked for it; available only where images were recorded. */
function addPreImage(entry: OplogEntry, event: Document, options: EventOptions): void {
  const mode = options.fullDocumentBeforeChange;
  if (mode === 'off') return;
  const image = entry.imagesRecorded ? entry.preImage : undefined;
  if (mode === 'required' && !image) throw noImage('pre', event);
  event.fullDocumentBeforeChange = image ?? null;
}
