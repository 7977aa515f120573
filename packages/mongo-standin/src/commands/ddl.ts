import { type Document } from 'bson';
import { badValue, CommandError, ErrorCodes, failedToParse } from '../errors.js';
import { compileFilter } from '../query/match.js';
import { isNumeric, isPlainObject, toNumber } from '../query/values.js';
import { openQueryCursor } from '../cursors.js';
import type { IndexSpec } from '../store.js';
import { collectionNameArg, optionalDocument, optionalInt, type CommandContext, type CommandSpec } from './context.js';

const CREATE_OPTIONS = new Set([
  'capped',
  'size',
  'max',
  'validator',
  'validationLevel',
  'validationAction',
  'collation',
  'changeStreamPreAndPostImages',
  'writeConcern',
  'comment',
  'lsid',
  '$db',
  '$clusterTime',
  'txnNumber',
  '$readPreference',
  'apiVersion',
  'apiStrict',
  'apiDeprecationErrors',
]);

function create(cmd: Document, ctx: CommandContext): Document {
  const name = collectionNameArg(cmd, 'create', ctx);
  for (const key of Object.keys(cmd).slice(1)) {
    if (!CREATE_OPTIONS.has(key))
      throw new CommandError(ErrorCodes.InvalidOptions, `option '${key}' of create is not supported by the stand-in`);
  }
  const options: Document = {};
  if (cmd.capped === true) {
    options.capped = true;
    if (!isNumeric(cmd.size)) throw badValue("the 'size' field is required when 'capped' is true");
    options.size = toNumber(cmd.size);
    if (cmd.max !== undefined) options.max = toNumber(cmd.max);
  }
  const existing = ctx.member.store.collection(ctx.db, name);
  if (existing) {
    const same =
      existing.isCapped === (options.capped === true) && (!options.capped || existing.options.max === options.max);
    if (!same)
      throw new CommandError(
        ErrorCodes.NamespaceExists,
        `Collection ${ctx.db}.${name} already exists with different options`,
      );
    return { ok: 1 };
  }
  ctx.member.store.createCollection(ctx.db, name, options);
  return { ok: 1 };
}

function drop(cmd: Document, ctx: CommandContext): Document {
  const name = collectionNameArg(cmd, 'drop', ctx);
  const nIndexesWas = ctx.member.store.dropCollection(ctx.db, name);
  if (nIndexesWas === undefined) return { ok: 1 };
  return { nIndexesWas, ns: `${ctx.db}.${name}`, ok: 1 };
}

function dropDatabase(_cmd: Document, ctx: CommandContext): Document {
  ctx.member.store.dropDatabase(ctx.db);
  return { ok: 1 };
}

function createIndexes(cmd: Document, ctx: CommandContext): Document {
  const name = collectionNameArg(cmd, 'createIndexes', ctx);
  const indexes = cmd.indexes;
  if (!Array.isArray(indexes) || indexes.length === 0) throw failedToParse('Must specify at least one index to create');
  const specs: IndexSpec[] = indexes.map((raw: unknown) => {
    if (!isPlainObject(raw) || !isPlainObject(raw.key) || Object.keys(raw.key).length === 0) {
      throw failedToParse("The 'key' field of an index specification must be a non-empty object");
    }
    if (typeof raw.name !== 'string' || raw.name.length === 0)
      throw failedToParse("The 'name' field of an index specification is required");
    for (const v of Object.values(raw.key)) {
      if (!isNumeric(v) || (toNumber(v) !== 1 && toNumber(v) !== -1)) {
        throw new CommandError(
          67,
          `Index type ${JSON.stringify(v)} is not supported by the stand-in (only ascending/descending)`,
          { codeName: 'CannotCreateIndex' },
        );
      }
    }
    if (raw.expireAfterSeconds !== undefined) {
      if (!isNumeric(raw.expireAfterSeconds) || toNumber(raw.expireAfterSeconds) < 0) {
        throw new CommandError(
          ErrorCodes.InvalidOptions,
          "TTL index 'expireAfterSeconds' option must be a non-negative number",
        );
      }
      if (Object.keys(raw.key).length !== 1)
        throw new CommandError(67, 'TTL indexes are single-field indexes, compound indexes do not support TTL', {
          codeName: 'CannotCreateIndex',
        });
    }
    const spec: IndexSpec = { v: 2, key: raw.key, name: raw.name };
    for (const option of [
      'unique',
      'sparse',
      'expireAfterSeconds',
      'partialFilterExpression',
      'background',
      'hidden',
      'collation',
    ]) {
      if (raw[option] !== undefined) spec[option] = raw[option];
    }
    if (spec.partialFilterExpression !== undefined) compileFilter(spec.partialFilterExpression);
    if (spec.expireAfterSeconds !== undefined) spec.expireAfterSeconds = toNumber(spec.expireAfterSeconds);
    return spec;
  });
  const { collection, created } = ctx.member.store.ensureCollection(ctx.db, name);
  const numIndexesBefore = collection.indexSpecs().length;
  let added = 0;
  for (const spec of specs) if (collection.createIndex(spec)) added += 1;
  const reply: Document = {
    numIndexesBefore,
    numIndexesAfter: collection.indexSpecs().length,
    createdCollectionAutomatically: created,
  };
  if (added === 0) reply.note = 'all indexes already exist';
  reply.ok = 1;
  return reply;
}

function dropIndexes(cmd: Document, ctx: CommandContext): Document {
  const name = collectionNameArg(cmd, Object.keys(cmd)[0]!, ctx);
  const collection = ctx.member.store.collection(ctx.db, name);
  if (!collection) throw new CommandError(ErrorCodes.NamespaceNotFound, `ns not found ${ctx.db}.${name}`);
  const nIndexesWas = collection.indexSpecs().length;
  const target = cmd.index;
  if (target === '*') collection.dropAllIndexes();
  else if (typeof target === 'string') collection.dropIndex(target);
  else if (Array.isArray(target)) target.forEach((n) => collection.dropIndex(String(n)));
  else if (isPlainObject(target)) {
    const indexName = collection.indexNameForKey(target);
    if (!indexName)
      throw new CommandError(ErrorCodes.IndexNotFound, `can't find index with key: ${JSON.stringify(target)}`);
    collection.dropIndex(indexName);
  } else throw failedToParse("BSON field 'dropIndexes.index' is missing but a required field");
  return { nIndexesWas, ok: 1 };
}

function listCollections(cmd: Document, ctx: CommandContext): Document {
  const filter = compileFilter(optionalDocument(cmd, 'filter') ?? {});
  const nameOnly = cmd.nameOnly === true;
  const infos = ctx.member.store
    .collections(ctx.db)
    .map((c) =>
      nameOnly
        ? { name: c.name, type: 'collection' }
        : {
            name: c.name,
            type: 'collection',
            options: c.isCapped
              ? { capped: true, size: c.options.size, ...(c.options.max !== undefined ? { max: c.options.max } : {}) }
              : {},
            info: { readOnly: false, uuid: c.uuid },
            idIndex: { v: 2, key: { _id: 1 }, name: '_id_' },
          },
    )
    .filter(filter);
  const cursor = optionalDocument(cmd, 'cursor');
  return openQueryCursor(ctx.member.cursors, `${ctx.db}.$cmd.listCollections`, infos, {
    batchSize: cursor ? optionalInt(cursor, 'batchSize') : undefined,
  });
}

function listIndexes(cmd: Document, ctx: CommandContext): Document {
  const name = collectionNameArg(cmd, 'listIndexes', ctx);
  const collection = ctx.member.store.collection(ctx.db, name);
  if (!collection) throw new CommandError(ErrorCodes.NamespaceNotFound, `ns does not exist: ${ctx.db}.${name}`);
  const cursor = optionalDocument(cmd, 'cursor');
  return openQueryCursor(
    ctx.member.cursors,
    `${ctx.db}.${name}`,
    collection.indexSpecs().map((s) => ({ ...s })),
    {
      batchSize: cursor ? optionalInt(cursor, 'batchSize') : undefined,
    },
  );
}

function listDatabases(cmd: Document, ctx: CommandContext): Document {
  if (ctx.db !== 'admin')
    throw new CommandError(ErrorCodes.Unauthorized, 'listDatabases may only be run against the admin database.');
  const filter = compileFilter(optionalDocument(cmd, 'filter') ?? {});
  const { store } = ctx.member;
  const databases = store
    .databaseNames()
    .map((name) => {
      const sizeOnDisk = store.collections(name).reduce((s, c) => s + c.dataSize, 0);
      return cmd.nameOnly === true
        ? { name }
        : { name, sizeOnDisk, empty: store.collections(name).every((c) => c.count === 0) };
    })
    .filter(filter);
  const totalSize = databases.reduce((s, d) => s + ((d as Document).sizeOnDisk ?? 0), 0);
  return cmd.nameOnly === true
    ? { databases, ok: 1 }
    : { databases, totalSize, totalSizeMb: Math.round(totalSize / 1024 / 1024), ok: 1 };
}

export const ddlCommands: Record<string, CommandSpec> = {
  create: { handler: create, write: true },
  drop: { handler: drop, write: true },
  dropDatabase: { handler: dropDatabase, write: true },
  createIndexes: { handler: createIndexes, write: true },
  dropIndexes: { handler: dropIndexes, write: true },
  deleteIndexes: { handler: dropIndexes, write: true },
  listCollections: { handler: listCollections, read: true },
  listIndexes: { handler: listIndexes, read: true },
  listDatabases: { handler: listDatabases, read: true },
};
