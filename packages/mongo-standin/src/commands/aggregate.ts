import type { Document } from 'bson';
import { ChangeStreamCursor, ChangeStreamDefinition } from '../change-streams.js';
import { cursorIdValue, openQueryCursor } from '../cursors.js';
import { CommandError, ErrorCodes, failedToParse } from '../errors.js';
import { runPipeline } from '../pipeline.js';
import { isPlainObject } from '../query/values.js';
import { validateCollectionName } from '../store.js';
import { optionalDocument, optionalInt, type CommandContext, type CommandSpec } from './context.js';

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
  const batchSize = cursorOptions ? optionalInt(cursorOptions, 'batchSize') : undefined;
  const first = pipeline[0] as unknown;
  if (isPlainObject(first) && '$changeStream' in first) {
    return openChangeStream(ctx, target, first.$changeStream, pipeline.slice(1) as Document[], batchSize);
  }
  if (typeof target !== 'string') {
    throw new CommandError(
      ErrorCodes.InvalidNamespace,
      '{aggregate: 1} is not valid for a pipeline that does not start with a collectionless stage',
    );
  }
  const name = validateCollectionName(ctx.db, target);
  const docs = ctx.member.store.collection(ctx.db, name)?.all() ?? [];
  return openQueryCursor(ctx.member.cursors, `${ctx.db}.${name}`, runPipeline(docs, pipeline as Document[]), {
    batchSize,
  });
}

function openChangeStream(
  ctx: CommandContext,
  target: unknown,
  stageSpec: unknown,
  following: Document[],
  batchSize: number | undefined,
): Document {
  if (!isPlainObject(stageSpec)) throw failedToParse('the $changeStream stage must be an object');
  const { member } = ctx;
  const allChangesForCluster = stageSpec.allChangesForCluster === true;
  if (allChangesForCluster && (ctx.db !== 'admin' || target !== 1)) {
    throw new CommandError(
      ErrorCodes.InvalidOptions,
      "A $changeStream with 'allChangesForCluster:true' may only be opened on the 'admin' database, and with no collection name",
    );
  }
  if (!allChangesForCluster && ctx.db === 'admin') {
    throw new CommandError(
      ErrorCodes.InvalidNamespace,
      '$changeStream may not be opened on the internal admin database',
    );
  }
  const coll = typeof target === 'string' ? validateCollectionName(ctx.db, target) : undefined;
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

export const aggregateCommands: Record<string, CommandSpec> = {
  aggregate: { handler: aggregate, read: true },
};
