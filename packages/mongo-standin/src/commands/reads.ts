import type { Document } from 'bson';
import { ChangeStreamCursor, DEFAULT_AWAIT_MS } from '../change-streams.js';
import { CommandError, ErrorCodes, typeMismatch } from '../errors.js';
import { rootScope, type Variables } from '../query/expressions.js';
import { compileProjection, type Projector } from '../query/project.js';
import { TailableCursor } from '../tailable-cursor.js';
import { valuesAtPath } from '../query/paths.js';
import { compileFilter } from '../query/match.js';
import { sortDocuments } from '../query/sort.js';
import { isNumeric, isPlainObject, toNumber, valuesEqual } from '../query/values.js';
import { cursorIdValue, openQueryCursor, QueryCursor } from '../cursors.js';
import { collectionNameArg, optionalDocument, optionalInt, type CommandContext, type CommandSpec } from './context.js';
import { readableDocuments, resolveNamespace } from './sources.js';
import { snapshotReadConcern, type SnapshotReadConcern } from '../snapshots.js';
import { commandVariables } from './variables.js';
import { matchingDocuments } from './writes.js';

function find(cmd: Document, ctx: CommandContext): Document {
  const name = collectionNameArg(cmd, 'find', ctx);
  const filter = optionalDocument(cmd, 'filter') ?? {};
  const skip = optionalInt(cmd, 'skip') ?? 0;
  const rawLimit = optionalInt(cmd, 'limit') ?? 0;
  if (skip < 0) throw new CommandError(ErrorCodes.BadValue, 'skip value must be non-negative');
  const variables = commandVariables(cmd, ctx);
  const project = compileProjection(optionalDocument(cmd, 'projection'), {
    find: true,
    scope: rootScope(Object.keys(variables)),
  });
  if (cmd.tailable === true) return openTailable(cmd, ctx, name, filter, project, variables);
  if (cmd.awaitData === true) {
    throw new CommandError(ErrorCodes.FailedToParse, 'Cannot set awaitData without tailable');
  }
  const snapshot = snapshotReadConcern(cmd, ctx.member);
  let docs = queryDocuments(ctx, name, filter, optionalDocument(cmd, 'sort'), variables, snapshot).slice(skip);
  const limit = Math.abs(rawLimit);
  if (limit > 0) docs = docs.slice(0, limit);
  const reply = openQueryCursor(
    ctx.member.cursors,
    `${ctx.db}.${name}`,
    docs.map((doc) => project(doc, variables)),
    {
      batchSize: optionalInt(cmd, 'batchSize'),
      singleBatch: cmd.singleBatch === true || rawLimit < 0,
    },
  );
  // A snapshot read reports the time it read at, which later reads of the session then ask for.
  if (snapshot) reply.cursor.atClusterTime = snapshot.atClusterTime;
  return reply;
}

async function getMore(cmd: Document, ctx: CommandContext): Promise<Document> {
  const raw = cmd.getMore;
  if (!isNumeric(raw)) throw typeMismatch(`BSON field 'getMore.getMore' is the wrong type, expected type 'long'`);
  const id = toNumber(raw);
  const name = cmd.collection;
  if (typeof name !== 'string' || name.length === 0)
    throw typeMismatch("BSON field 'getMore.collection' is missing or not a string");
  const { cursors } = ctx.member;
  const cursor = cursors.get(id);
  if (cursor.ns !== `${ctx.db}.${name}`) {
    throw new CommandError(
      13,
      `Requested getMore on namespace '${ctx.db}.${name}', but cursor belongs to a different namespace ${cursor.ns}`,
      { codeName: 'Unauthorized' },
    );
  }
  ctx.checkedOut = cursor instanceof ChangeStreamCursor ? 'changeStream' : 'query';
  failAfterCheckout(ctx, cursor.ns, id);
  const batchSize = optionalInt(cmd, 'batchSize');
  if (cursor instanceof ChangeStreamCursor) {
    const maxTimeMS = optionalInt(cmd, 'maxTimeMS') ?? DEFAULT_AWAIT_MS;
    let nextBatch: Document[];
    try {
      nextBatch = await cursor.awaitBatch(batchSize, maxTimeMS, ctx.connection.signal);
    } catch (err) {
      cursors.kill(id);
      throw err;
    }
    const done = cursor.invalidated;
    if (done) cursors.kill(id);
    return {
      cursor: {
        nextBatch,
        postBatchResumeToken: cursor.postBatchResumeToken,
        id: cursorIdValue(done ? 0 : id),
        ns: cursor.ns,
      },
      ok: 1,
    };
  }
  if (cursor instanceof TailableCursor) {
    let nextBatch: Document[];
    try {
      nextBatch = await cursor.awaitBatch(
        batchSize,
        optionalInt(cmd, 'maxTimeMS') ?? DEFAULT_AWAIT_MS,
        ctx.connection.signal,
      );
    } catch (err) {
      cursors.kill(id);
      throw err;
    }
    const done = cursor.dead;
    if (done) cursors.kill(id);
    return { cursor: { nextBatch, id: cursorIdValue(done ? 0 : id), ns: cursor.ns }, ok: 1 };
  }
  const query = cursor as QueryCursor;
  const nextBatch = query.nextBatch(batchSize);
  const done = query.exhausted;
  if (done) cursors.kill(id);
  return { cursor: { nextBatch, id: cursorIdValue(done ? 0 : id), ns: cursor.ns }, ok: 1 };
}

/**
 * mongod's `failGetMoreAfterCursorCheckout` fail point: the getMore fails once its cursor is checked out (so
 * the error gets the labels of the cursor's command), and the cursor is gone, as after any getMore error.
 */
function failAfterCheckout(ctx: CommandContext, ns: string, id: number): void {
  const data = ctx.member.failPoints.takeNamed(
    'failGetMoreAfterCursorCheckout',
    (d) =>
      (typeof d.appName !== 'string' || d.appName === ctx.connection.appName) &&
      (typeof d.namespace !== 'string' || d.namespace === ns),
  );
  if (!data) return;
  ctx.member.cursors.kill(id);
  ctx.member.counters.commandsFailed += 1;
  throw new CommandError(
    isNumeric(data.errorCode) ? toNumber(data.errorCode) : ErrorCodes.InternalError,
    "Hit the 'failGetMoreAfterCursorCheckout' failpoint",
  );
}

function killCursors(cmd: Document, ctx: CommandContext): Document {
  // Not validated as a collection name: database-level streams' cursors live on '$cmd.aggregate'.
  if (typeof cmd.killCursors !== 'string') throw typeMismatch("BSON field 'killCursors.killCursors' must be a string");
  const ids = cmd.cursors;
  if (!Array.isArray(ids)) throw typeMismatch("BSON field 'killCursors.cursors' is missing or not an array");
  const cursorsKilled: unknown[] = [];
  const cursorsNotFound: unknown[] = [];
  for (const raw of ids) {
    (ctx.member.cursors.kill(toNumber(raw)) ? cursorsKilled : cursorsNotFound).push(raw);
  }
  return { cursorsKilled, cursorsNotFound, cursorsAlive: [], cursorsUnknown: [], ok: 1 };
}

/** find with `tailable` (and `awaitData`): a cursor that stays open on a capped collection. */
function openTailable(
  cmd: Document,
  ctx: CommandContext,
  name: string,
  filter: Document,
  project: Projector,
  variables: Variables,
): Document {
  const collection = ctx.member.store.collection(ctx.db, name);
  if (!collection?.isCapped) {
    throw new CommandError(
      ErrorCodes.BadValue,
      `error processing query: ns=${ctx.db}.${name} tailable cursor requested on non capped collection`,
    );
  }
  if (cmd.sort !== undefined && !(isPlainObject(cmd.sort) && Object.keys(cmd.sort).every((k) => k === '$natural'))) {
    throw new CommandError(ErrorCodes.BadValue, 'cannot use tailable option with a sort other than {$natural: 1}');
  }
  const matcher = compileFilter(filter, { variables });
  const cursor = new TailableCursor(
    ctx.member.cursors.allocateId(),
    `${ctx.db}.${name}`,
    collection,
    ctx.member.store,
    ctx.member.oplog,
    (doc) => matcher(doc),
    (doc) => project(doc, variables),
    cmd.awaitData === true,
  );
  const batchSize = optionalInt(cmd, 'batchSize');
  const firstBatch = batchSize === 0 ? [] : cursor.nextBatch(batchSize ?? 101);
  ctx.member.cursors.register(cursor);
  return { cursor: { firstBatch, id: cursorIdValue(cursor.id), ns: cursor.ns }, ok: 1 };
}

/** The documents of a collection or a view that match `filter`, sorted when asked. */
function queryDocuments(
  ctx: CommandContext,
  name: string,
  filter: Document,
  sort: unknown,
  variables: Variables,
  snapshot?: SnapshotReadConcern,
): Document[] {
  const resolved = resolveNamespace(ctx.member.store, ctx.db, name);
  if (!resolved.isView && !snapshot) return matchingDocuments(resolved.collection, filter, sort, variables);
  const matcher = compileFilter(filter, { variables });
  const at = snapshot ? { member: ctx.member, at: snapshot.atClusterTime } : undefined;
  const docs = readableDocuments(ctx.member.store, ctx.db, name, variables, at).filter((doc) => matcher(doc));
  return sort === undefined ? docs : sortDocuments(docs, sort);
}

function count(cmd: Document, ctx: CommandContext): Document {
  const name = collectionNameArg(cmd, 'count', ctx);
  const skip = optionalInt(cmd, 'skip') ?? 0;
  const limit = Math.abs(optionalInt(cmd, 'limit') ?? 0);
  const variables = commandVariables(cmd, ctx);
  let n = queryDocuments(ctx, name, optionalDocument(cmd, 'query') ?? {}, undefined, variables).length - skip;
  n = Math.max(0, n);
  if (limit > 0) n = Math.min(n, limit);
  return { n, ok: 1 };
}

function distinct(cmd: Document, ctx: CommandContext): Document {
  const name = collectionNameArg(cmd, 'distinct', ctx);
  const key = cmd.key;
  if (typeof key !== 'string') throw typeMismatch("BSON field 'distinct.key' is missing or not a string");
  const values: unknown[] = [];
  const variables = commandVariables(cmd, ctx);
  const snapshot = snapshotReadConcern(cmd, ctx.member);
  for (const doc of queryDocuments(ctx, name, optionalDocument(cmd, 'query') ?? {}, undefined, variables, snapshot)) {
    for (const value of valuesAtPath(doc, key)) {
      for (const v of Array.isArray(value) ? value : [value]) {
        if (v !== undefined && !values.some((seen) => valuesEqual(seen, v))) values.push(v);
      }
    }
  }
  return snapshot ? { values, atClusterTime: snapshot.atClusterTime, ok: 1 } : { values, ok: 1 };
}

export const readCommands: Record<string, CommandSpec> = {
  find: { handler: find, read: true },
  getMore: { handler: getMore, read: true },
  killCursors: { handler: killCursors },
  count: { handler: count, read: true },
  distinct: { handler: distinct, read: true },
};
