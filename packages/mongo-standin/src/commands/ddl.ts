import { Long, type Document } from 'bson';
import { badValue, CommandError, ErrorCodes, failedToParse } from '../errors.js';
import { compileFilter } from '../query/match.js';
import { canonicalKey, isNumeric, isPlainObject, toNumber } from '../query/values.js';
import { openQueryCursor } from '../cursors.js';
import type { Collection, IndexSpec } from '../store.js';
import { parseSharedOptions } from './collection-options.js';
import {
  collectionNameArg,
  GENERIC_ARGUMENTS,
  optionalDocument,
  optionalInt,
  type CommandContext,
  type CommandSpec,
} from './context.js';

/** create's own options (mongod 7.0's IDL); the generic arguments are allowed too. */
const CREATE_OPTIONS = new Set([
  'capped',
  'size',
  'max',
  'autoIndexId',
  'idIndex',
  'validator',
  'validationLevel',
  'validationAction',
  'indexOptionDefaults',
  'viewOn',
  'pipeline',
  'collation',
  'changeStreamPreAndPostImages',
  'recordPreImages',
  'timeseries',
  'clusteredIndex',
  'expireAfterSeconds',
  'storageEngine',
  'temp',
  'flags',
]);

const invalidOptions = (message: string) => new CommandError(ErrorCodes.InvalidOptions, message);

/** The `collation` the stand-in honours: none, or the simple binary one (see README). */
function refuseCollation(collation: unknown): void {
  if (collation === undefined) return;
  if (isPlainObject(collation) && collation.locale === 'simple') return;
  throw new CommandError(ErrorCodes.BadValue, 'collation is not supported by the stand-in (only { locale: "simple" })');
}

/**
 * `create` (https://www.mongodb.com/docs/manual/reference/command/create/): plain, capped, clustered and time
 * series collections, and views; with validation and pre/post-image options.
 */
function create(cmd: Document, ctx: CommandContext): Document {
  const name = collectionNameArg(cmd, 'create', ctx);
  for (const key of Object.keys(cmd).slice(1)) {
    if (!CREATE_OPTIONS.has(key) && !GENERIC_ARGUMENTS.has(key)) {
      throw new CommandError(40415, `BSON field 'create.${key}' is an unknown field.`, { codeName: 'Location40415' });
    }
  }
  refuseCollation(cmd.collation);
  const options: Document = parseSharedOptions(cmd, 'create');
  const isView = cmd.viewOn !== undefined;
  if (cmd.pipeline !== undefined && !isView)
    throw new CommandError(ErrorCodes.BadValue, "'pipeline' requires 'viewOn' to also be specified");
  if (isView) {
    if (typeof cmd.viewOn !== 'string' || cmd.viewOn.length === 0) {
      throw new CommandError(ErrorCodes.TypeMismatch, "'viewOn' must be a non-empty string");
    }
    if (cmd.pipeline !== undefined && !Array.isArray(cmd.pipeline)) {
      throw new CommandError(ErrorCodes.TypeMismatch, "'pipeline' must be an array");
    }
    for (const option of [
      'capped',
      'validator',
      'changeStreamPreAndPostImages',
      'timeseries',
      'clusteredIndex',
      'expireAfterSeconds',
    ]) {
      if (cmd[option] !== undefined) throw invalidOptions(`option '${option}' is not supported for views`);
    }
    options.viewOn = cmd.viewOn;
    options.pipeline = (cmd.pipeline as Document[] | undefined) ?? [];
  }
  if (cmd.capped === true) {
    options.capped = true;
    if (!isNumeric(cmd.size)) throw badValue("the 'size' field is required when 'capped' is true");
    options.size = toNumber(cmd.size);
    if (cmd.max !== undefined) options.max = toNumber(cmd.max);
  }
  if (cmd.timeseries !== undefined) {
    const ts = cmd.timeseries;
    if (!isPlainObject(ts) || typeof ts.timeField !== 'string') {
      throw new CommandError(40414, "BSON field 'create.timeseries.timeField' is missing but a required field", {
        codeName: 'Location40414',
      });
    }
    if (cmd.capped === true) throw invalidOptions('Time-series collections cannot be capped');
    options.timeseries = {
      timeField: ts.timeField,
      ...(ts.metaField !== undefined ? { metaField: ts.metaField } : {}),
      granularity: ts.granularity ?? (ts.bucketMaxSpanSeconds === undefined ? 'seconds' : undefined),
      bucketMaxSpanSeconds:
        ts.bucketMaxSpanSeconds ??
        ({ seconds: 3600, minutes: 86_400, hours: 2_592_000 } as Document)[String(ts.granularity ?? 'seconds')],
      ...(ts.bucketRoundingSeconds !== undefined ? { bucketRoundingSeconds: ts.bucketRoundingSeconds } : {}),
    };
    if (options.timeseries.granularity === undefined) delete options.timeseries.granularity;
  }
  if (cmd.clusteredIndex !== undefined) {
    const spec = cmd.clusteredIndex;
    const key = isPlainObject(spec) ? spec.key : undefined;
    if (
      spec !== true &&
      (!isPlainObject(spec) || !isPlainObject(key) || canonicalKey(key) !== canonicalKey({ _id: 1 }))
    ) {
      throw invalidOptions('The clusteredIndex option is only supported for key: {_id: 1}');
    }
    if (isPlainObject(spec) && spec.unique !== true)
      throw invalidOptions("The clusteredIndex option requires 'unique: true'");
    options.clusteredIndex = {
      v: 2,
      key: { _id: 1 },
      name: isPlainObject(spec) && typeof spec.name === 'string' ? spec.name : '_id_',
      unique: true,
    };
  }
  if (cmd.expireAfterSeconds !== undefined) {
    if (options.clusteredIndex === undefined && options.timeseries === undefined) {
      throw invalidOptions("'expireAfterSeconds' requires clustering to be enabled");
    }
    if (!isNumeric(cmd.expireAfterSeconds) || toNumber(cmd.expireAfterSeconds) < 0) {
      throw invalidOptions("TTL index 'expireAfterSeconds' option cannot be less than 0");
    }
    options.expireAfterSeconds = Long.fromNumber(toNumber(cmd.expireAfterSeconds));
  }
  const existing = ctx.member.store.collection(ctx.db, name);
  if (existing) {
    if (canonicalKey(existing.options) !== canonicalKey(sizedLike(existing.options, options))) {
      throw new CommandError(
        ErrorCodes.NamespaceExists,
        `Collection ${ctx.db}.${name} already exists with different options`,
      );
    }
    return { ok: 1 };
  }
  ctx.member.store.createCollection(ctx.db, name, options);
  return { ok: 1 };
}

/** `options` as a new collection would store them (a capped size rounded as mongod rounds it), to compare. */
function sizedLike(stored: Document, options: Document): Document {
  if (options.capped !== true) return options;
  return { ...options, size: stored.size };
}

function drop(cmd: Document, ctx: CommandContext): Document {
  const name = collectionNameArg(cmd, 'drop', ctx);
  const nIndexesWas = ctx.member.store.dropCollection(ctx.db, name);
  if (nIndexesWas === undefined) return { ok: 1 };
  return { nIndexesWas, ns: `${ctx.db}.${name}`, ok: 1 };
}

/** `renameCollection` (an admin command): `{ renameCollection: 'db.from', to: 'db.to', dropTarget }`. */
function renameCollection(cmd: Document, ctx: CommandContext): Document {
  if (ctx.db !== 'admin') {
    throw new CommandError(ErrorCodes.Unauthorized, 'renameCollection may only be run against the admin database.');
  }
  const split = (field: string): [string, string] => {
    const value = cmd[field];
    if (typeof value !== 'string' || !value.includes('.')) {
      throw new CommandError(
        ErrorCodes.InvalidNamespace,
        `Invalid ${field === 'to' ? 'target' : 'source'} namespace: ${String(value)}`,
      );
    }
    const at = value.indexOf('.');
    return [value.slice(0, at), value.slice(at + 1)];
  };
  const [fromDb, from] = split('renameCollection');
  const [toDb, to] = split('to');
  ctx.member.store.renameCollection(fromDb, from, toDb, to, cmd.dropTarget === true);
  return { ok: 1 };
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
    refuseCollation(raw.collation);
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
  if (collection.isCapped && specs.some((spec) => spec.expireAfterSeconds !== undefined)) {
    throw new CommandError(ErrorCodes.CannotCreateIndex, 'Cannot create TTL index on a capped collection');
  }
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
  if (collection.isView) {
    throw new CommandError(
      ErrorCodes.CommandNotSupportedOnView,
      `Namespace ${ctx.db}.${name} is a view, not a collection`,
    );
  }
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

/** A collection as listCollections describes it (https://www.mongodb.com/docs/manual/reference/command/listCollections/). */
function collectionInfo(c: Collection, nameOnly: boolean): Document {
  const type = c.isView ? 'view' : c.isTimeseries ? 'timeseries' : 'collection';
  if (nameOnly) return { name: c.name, type };
  const options: Document = {};
  for (const [key, value] of Object.entries(c.options)) if (value !== undefined) options[key] = value;
  if (c.isView) return { name: c.name, type, options, info: { readOnly: true } };
  if (c.isTimeseries) return { name: c.name, type, options, info: { readOnly: false } };
  const info: Document = { name: c.name, type, options, info: { readOnly: false, uuid: c.uuid } };
  if (c.options.clusteredIndex === undefined) info.idIndex = { v: 2, key: { _id: 1 }, name: '_id_' };
  return info;
}

function listCollections(cmd: Document, ctx: CommandContext): Document {
  const filter = compileFilter(optionalDocument(cmd, 'filter') ?? {});
  const nameOnly = cmd.nameOnly === true;
  const collections = ctx.member.store.collections(ctx.db);
  const infos = collections.map((c) => collectionInfo(c, nameOnly));
  // mongod keeps view definitions in <db>.system.views, which it lists as a collection.
  if (collections.some((c) => c.isView)) {
    infos.push(
      nameOnly
        ? { name: 'system.views', type: 'collection' }
        : { name: 'system.views', type: 'collection', options: {}, info: { readOnly: false } },
    );
  }
  const cursor = optionalDocument(cmd, 'cursor');
  return openQueryCursor(
    ctx.member.cursors,
    `${ctx.db}.$cmd.listCollections`,
    infos.filter((info) => filter(info)),
    { batchSize: cursor ? optionalInt(cursor, 'batchSize') : undefined },
  );
}

function listIndexes(cmd: Document, ctx: CommandContext): Document {
  const name = collectionNameArg(cmd, 'listIndexes', ctx);
  const collection = ctx.member.store.collection(ctx.db, name);
  if (!collection) throw new CommandError(ErrorCodes.NamespaceNotFound, `ns does not exist: ${ctx.db}.${name}`);
  if (collection.isView) {
    throw new CommandError(
      ErrorCodes.CommandNotSupportedOnView,
      `Namespace ${ctx.db}.${name} is a view, not a collection`,
    );
  }
  const cursor = optionalDocument(cmd, 'cursor');
  const clustered = collection.options.clusteredIndex as Document | undefined;
  const specs = collection.indexSpecs().map((s) => ({ ...s }));
  return openQueryCursor(
    ctx.member.cursors,
    `${ctx.db}.${name}`,
    clustered ? [{ ...clustered, clustered: true }, ...specs.filter((s) => s.name !== '_id_')] : specs,
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
    .filter((info) => filter(info));
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
  renameCollection: { handler: renameCollection, write: true },
};
