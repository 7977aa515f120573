import { ObjectId, type Document } from 'bson';
import { ChangeStreamCursor, ChangeStreamDefinition } from '../change-streams.js';
import { cursorIdValue, openQueryCursor } from '../cursors.js';
import { CommandError, ErrorCodes, failedToParse } from '../errors.js';
import { runPipeline, stageParts } from '../pipeline.js';
import { compileExpression, documentVariables, rootScope, type Variables } from '../query/expressions.js';
import { canonicalKey, cloneValue, isPlainObject, valuesEqual } from '../query/values.js';
import { validateCollectionName, type Collection } from '../store.js';
import { optionalDocument, optionalInt, type CommandContext, type CommandSpec } from './context.js';
import { localSessions } from './sessions.js';
import { snapshotReadConcern } from '../snapshots.js';
import { readableDocuments } from './sources.js';
import { commandVariables } from './variables.js';

/**
 * `aggregate` (https://www.mongodb.com/docs/manual/reference/command/aggregate/): on a collection or a view,
 * collectionless (`aggregate: 1`) with `$documents` or `$listLocalSessions` first, change streams, and the
 * output stages `$out` and `$merge` as the last stage.
 */
function aggregate(cmd: Document, ctx: CommandContext): Document {
  const target = cmd.aggregate;
  const pipeline = cmd.pipeline;
  if (!Array.isArray(pipeline)) throw failedToParse("BSON field 'aggregate.pipeline' is missing but a required field");
  if (target !== 1 && typeof target !== 'string') {
    throw new CommandError(ErrorCodes.FailedToParse, 'Invalid {aggregate: ...} value: must be a collection name or 1');
  }
  const cursorOptions = optionalDocument(cmd, 'cursor');
  if (!cursorOptions && cmd.explain !== true) {
    throw failedToParse("The 'cursor' option is required, except for aggregate with the explain argument");
  }
  if (cmd.explain === true) {
    throw new CommandError(ErrorCodes.CommandNotSupported, 'explain is not supported by the stand-in');
  }
  const batchSize = cursorOptions ? optionalInt(cursorOptions, 'batchSize') : undefined;
  const stages = pipeline.map((stage) => {
    stageParts(stage);
    return stage as Document;
  });
  const first = stages[0];
  if (first && '$changeStream' in first) {
    return openChangeStream(ctx, target, first.$changeStream, stages.slice(1), batchSize);
  }
  const variables = commandVariables(cmd, ctx);
  const last = stages[stages.length - 1];
  const output = last && ('$out' in last || '$merge' in last) ? last : undefined;
  if (output && isPlainObject(cmd.readConcern) && cmd.readConcern.level === 'linearizable') {
    throw new CommandError(
      ErrorCodes.InvalidOptions,
      `${Object.keys(output)[0]} cannot be used with a 'linearizable' read concern level`,
    );
  }
  const snapshot = snapshotReadConcern(cmd, ctx.member);
  const body = output ? stages.slice(0, -1) : stages;
  let input: Document[];
  let rest = body;
  let ns: string;
  if (target === 1) {
    const [name, arg] = first ? stageParts(first) : ['', undefined];
    if (name === '$documents') {
      const docs = compileExpression(arg, rootScope(Object.keys(variables)))(documentVariables({}, variables));
      if (!Array.isArray(docs) || !docs.every(isPlainObject)) {
        throw new CommandError(5858203, 'an array of documents must be specified to the $documents stage', {
          codeName: 'Location5858203',
        });
      }
      input = docs as Document[];
    } else if (name === '$listLocalSessions') {
      input = localSessions(ctx.member);
    } else {
      throw new CommandError(
        ErrorCodes.InvalidNamespace,
        '{aggregate: 1} is not valid for an initial stage that is not collectionless',
      );
    }
    rest = body.slice(1);
    ns = `${ctx.db}.$cmd.aggregate`;
  } else if (first && '$collStats' in first) {
    const name = validateCollectionName(ctx.db, target);
    input = [collStats(ctx, name, first.$collStats)];
    rest = body.slice(1);
    ns = `${ctx.db}.${name}`;
  } else {
    const name = validateCollectionName(ctx.db, target);
    const at = snapshot ? { member: ctx.member, at: snapshot.atClusterTime } : undefined;
    input = readableDocuments(ctx.member.store, ctx.db, name, variables, at);
    ns = `${ctx.db}.${name}`;
  }
  const results = runPipeline(input, rest, {
    variables,
    collection: (other) => readableDocuments(ctx.member.store, ctx.db, other, variables),
  });
  if (output) {
    writeOutput(output, results, cmd, ctx, variables);
    return { cursor: { firstBatch: [], id: cursorIdValue(0), ns }, ok: 1 };
  }
  const reply = openQueryCursor(ctx.member.cursors, ns, results, { batchSize });
  if (snapshot) reply.cursor.atClusterTime = snapshot.atClusterTime;
  return reply;
}

/**
 * `$collStats` (https://www.mongodb.com/docs/manual/reference/operator/aggregation/collStats/): the stand-in's
 * own figures (data sizes are BSON sizes; there is no storage engine).
 */
function collStats(ctx: CommandContext, name: string, spec: unknown): Document {
  if (!isPlainObject(spec)) throw new CommandError(ErrorCodes.FailedToParse, '$collStats must take a nested object');
  const collection = ctx.member.store.collection(ctx.db, name);
  if (!collection)
    throw new CommandError(
      ErrorCodes.NamespaceNotFound,
      `Unable to retrieve storageStats in $collStats stage :: caused by :: Collection [${ctx.db}.${name}] not found.`,
    );
  const out: Document = { ns: `${ctx.db}.${name}`, host: ctx.member.address, localTime: new Date() };
  const count = collection.count;
  const size = collection.dataSize;
  if (spec.storageStats !== undefined) {
    out.storageStats = {
      size,
      count,
      avgObjSize: count === 0 ? 0 : Math.floor(size / count),
      storageSize: size,
      capped: collection.isCapped,
      ...(collection.isCapped ? { max: collection.options.max ?? 0, maxSize: collection.options.size } : {}),
      nindexes: collection.indexSpecs().length,
      totalIndexSize: 0,
      indexSizes: Object.fromEntries(collection.indexSpecs().map((s) => [s.name, 0])),
    };
  }
  if (spec.count !== undefined) out.count = count;
  return out;
}

/** `$out` / `$merge`'s target namespace. */
function outputNamespace(ctx: CommandContext, spec: unknown, stage: string): { db: string; coll: string } {
  if (typeof spec === 'string') return { db: ctx.db, coll: validateCollectionName(ctx.db, spec) };
  if (isPlainObject(spec) && typeof spec.coll === 'string') {
    const db = typeof spec.db === 'string' ? spec.db : ctx.db;
    return { db, coll: validateCollectionName(db, spec.coll) };
  }
  throw new CommandError(ErrorCodes.FailedToParse, `${stage} needs a collection name or { db, coll }`);
}

function writeOutput(
  stage: Document,
  docs: Document[],
  cmd: Document,
  ctx: CommandContext,
  variables: Variables,
): void {
  const [name, arg] = stageParts(stage);
  if (name === '$out') {
    replaceCollection(ctx, outputNamespace(ctx, arg, '$out'), docs, cmd);
    return;
  }
  merge(ctx, arg, docs, cmd, variables);
}

/**
 * `$out` (https://www.mongodb.com/docs/manual/reference/operator/aggregation/out/): the results go into a
 * temporary collection that then replaces the target (a rename with dropTarget, as mongod does it), keeping
 * the target's indexes and options. Change streams see the rename (streams on the target are invalidated).
 */
function replaceCollection(
  ctx: CommandContext,
  ns: { db: string; coll: string },
  docs: Document[],
  cmd: Document,
): void {
  const { store } = ctx.member;
  const existing = store.collection(ns.db, ns.coll);
  if (existing?.isView) {
    throw new CommandError(
      ErrorCodes.CommandNotSupportedOnView,
      `Namespace ${ns.db}.${ns.coll} is a view, not a collection`,
    );
  }
  if (existing?.isCapped) {
    throw new CommandError(17152, `namespace '${ns.db}.${ns.coll}' is capped so it can't be used for $out`, {
      codeName: 'Location17152',
    });
  }
  const temp = `tmp.agg_out.${new ObjectId().toHexString()}`;
  const tempCollection = store.createCollection(ns.db, temp, existing ? { ...existing.options } : {});
  for (const spec of existing?.indexSpecs() ?? []) {
    if (spec.name !== '_id_') tempCollection.createIndex({ ...spec, key: { ...spec.key } });
  }
  const options = { bypassDocumentValidation: cmd.bypassDocumentValidation === true };
  try {
    for (const doc of docs)
      tempCollection.insert(doc._id === undefined ? { _id: new ObjectId(), ...doc } : doc, options);
  } catch (err) {
    store.dropCollection(ns.db, temp);
    throw err;
  }
  store.renameCollection(ns.db, temp, ns.db, ns.coll, true);
}

type WhenMatched = 'replace' | 'keepExisting' | 'merge' | 'fail' | Document[];

/** `$merge` (https://www.mongodb.com/docs/manual/reference/operator/aggregation/merge/). */
function merge(ctx: CommandContext, arg: unknown, docs: Document[], cmd: Document, variables: Variables): void {
  const spec = typeof arg === 'string' ? { into: arg } : arg;
  if (!isPlainObject(spec) || spec.into === undefined) {
    throw new CommandError(ErrorCodes.FailedToParse, "BSON field '$merge.into' is missing but a required field");
  }
  const ns = outputNamespace(ctx, spec.into, '$merge');
  const on = spec.on === undefined ? ['_id'] : Array.isArray(spec.on) ? spec.on.map(String) : [String(spec.on)];
  const whenMatched = (spec.whenMatched ?? 'merge') as WhenMatched;
  const whenNotMatched = (spec.whenNotMatched ?? 'insert') as string;
  const { collection } = ctx.member.store.ensureCollection(ns.db, ns.coll);
  if (on.length !== 1 || on[0] !== '_id') {
    const unique = collection
      .indexSpecs()
      .some((s) => s.unique === true && canonicalKey(Object.keys(s.key).sort()) === canonicalKey([...on].sort()));
    if (!unique) {
      throw new CommandError(51183, 'Cannot find index to verify that join fields will be unique', {
        codeName: 'Location51183',
      });
    }
  }
  const options = { bypassDocumentValidation: cmd.bypassDocumentValidation === true };
  const lets = isPlainObject(spec.let) ? spec.let : { new: '$$ROOT' };
  for (const doc of docs) mergeOne(collection, doc, on, whenMatched, whenNotMatched, lets, variables, options);
}

function mergeOne(
  collection: Collection,
  doc: Document,
  on: string[],
  whenMatched: WhenMatched,
  whenNotMatched: string,
  lets: Document,
  variables: Variables,
  options: { bypassDocumentValidation: boolean },
): void {
  const matched = collection.all().find((existing) => on.every((field) => valuesEqual(existing[field], doc[field])));
  if (!matched) {
    if (whenNotMatched === 'discard') return;
    if (whenNotMatched === 'fail') {
      throw new CommandError(
        13113,
        '$merge could not find a matching document in the target collection for at least one document in the source collection',
        {
          codeName: 'MergeStageNoMatchingDocument',
        },
      );
    }
    collection.insert(doc._id === undefined ? { _id: new ObjectId(), ...doc } : doc, options);
    return;
  }
  if (Array.isArray(whenMatched)) {
    const scope = rootScope([...Object.keys(variables), ...Object.keys(lets)]);
    const letValues: Variables = { ...variables };
    for (const [key, expr] of Object.entries(lets)) {
      letValues[key] = compileExpression(expr, scope)(documentVariables(doc, variables));
    }
    const updated = runPipeline([matched], whenMatched, { variables: letValues })[0] ?? matched;
    collection.replace(matched, { ...updated, _id: matched._id }, undefined, options);
    return;
  }
  switch (whenMatched) {
    case 'keepExisting':
      return;
    case 'fail':
      throw new CommandError(
        ErrorCodes.DuplicateKey,
        `E11000 duplicate key error collection: ${collection.ns} index: _id_ dup key: { _id: ${JSON.stringify(doc._id)} }`,
        { extra: { keyPattern: { _id: 1 }, keyValue: { _id: doc._id } } },
      );
    case 'replace':
      collection.replace(matched, { ...cloneValue(doc), _id: matched._id }, undefined, options);
      return;
    default:
      collection.replace(matched, { ...matched, ...cloneValue(doc), _id: matched._id }, undefined, options);
  }
}

function openChangeStream(
  ctx: CommandContext,
  target: unknown,
  stageSpec: unknown,
  following: Document[],
  batchSize: number | undefined,
): Document {
  if (!isPlainObject(stageSpec)) {
    throw new CommandError(ErrorCodes.TypeMismatch, 'the $changeStream stage must be an object');
  }
  const { member } = ctx;
  const allChangesForCluster = stageSpec.allChangesForCluster === true;
  if (allChangesForCluster && (ctx.db !== 'admin' || target !== 1)) {
    throw new CommandError(
      ErrorCodes.InvalidOptions,
      "A $changeStream with 'allChangesForCluster:true' may only be opened on the 'admin' database, and with no collection name",
    );
  }
  if (!allChangesForCluster && ['admin', 'config', 'local'].includes(ctx.db)) {
    throw new CommandError(
      ErrorCodes.InvalidNamespace,
      `$changeStream may not be opened on the internal ${ctx.db} database`,
    );
  }
  const coll = typeof target === 'string' ? validateCollectionName(ctx.db, target) : undefined;
  if (coll?.startsWith('system.')) {
    throw new CommandError(
      ErrorCodes.InvalidNamespace,
      `$changeStream may not be opened on the internal ${ctx.db}.${coll} collection`,
    );
  }
  if (coll !== undefined && member.store.collection(ctx.db, coll)?.isView) {
    throw new CommandError(
      ErrorCodes.CommandNotSupportedOnView,
      `Namespace ${ctx.db}.${coll} is a view, not a collection`,
    );
  }
  const deps = { oplog: member.oplog, store: member.store, counters: member.counters };
  const definition = new ChangeStreamDefinition({ db: ctx.db, coll, allChangesForCluster }, stageSpec, following, deps);
  const ns = coll === undefined ? `${ctx.db}.$cmd.aggregate` : `${ctx.db}.${coll}`;
  const cursor = new ChangeStreamCursor(member.cursors.allocateId(), ns, definition, deps);
  member.counters.changeStreamsOpened += 1;
  if (definition.resumed) member.counters.changeStreamsResumed += 1;
  // The first batch never waits; a resumed stream may already have events to replay.
  const firstBatch = batchSize === 0 ? [] : cursor.readBatch(batchSize ?? 101);
  const done = cursor.invalidated;
  if (!done) member.cursors.register(cursor);
  return {
    cursor: {
      firstBatch,
      postBatchResumeToken: cursor.postBatchResumeToken,
      id: cursorIdValue(done ? 0 : cursor.id),
      ns,
    },
    ok: 1,
  };
}

/** An aggregate ending in $out or $merge writes (primary only, with a write concern). */
function writesOutput(cmd: Document): boolean {
  const pipeline: unknown = cmd.pipeline;
  if (!Array.isArray(pipeline) || pipeline.length === 0) return false;
  const last: unknown = pipeline[pipeline.length - 1];
  return isPlainObject(last) && ('$out' in last || '$merge' in last);
}

export const aggregateCommands: Record<string, CommandSpec> = {
  aggregate: { handler: aggregate, read: true, writes: writesOutput },
};
