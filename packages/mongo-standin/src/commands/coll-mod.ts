import { Long, type Document } from 'bson';
import { CommandError, ErrorCodes, typeMismatch } from '../errors.js';
import { bsonTypeOf, isNumeric, isPlainObject, toNumber } from '../query/values.js';
import type { Collection } from '../store.js';
import { parseSharedOptions } from './collection-options.js';
import { collectionNameArg, GENERIC_ARGUMENTS, type CommandContext, type CommandSpec } from './context.js';

/**
 * `collMod` (https://www.mongodb.com/docs/manual/reference/command/collMod/) with mongod 7.0's checks, error
 * codes and messages: collection options (validation, pre/post images, views, clustered TTL, capped size) and
 * index options (a TTL index's `expireAfterSeconds`, hide/unhide). Options it does not implement are refused
 * loudly.
 */

/** collMod options the stand-in applies (besides `index`). */
const COLLECTION_OPTIONS = new Set([
  'validator',
  'validationLevel',
  'validationAction',
  'changeStreamPreAndPostImages',
  'recordPreImages',
  'cappedSize',
  'cappedMax',
  'expireAfterSeconds',
  'viewOn',
  'pipeline',
]);

/** collMod options mongod has but the stand-in does not implement. */
const UNSUPPORTED_OPTIONS = new Set(['timeseries', 'dryRun', 'collectionUUID']);

const INDEX_FIELDS = new Set([
  'name',
  'keyPattern',
  'expireAfterSeconds',
  'hidden',
  'unique',
  'prepareUnique',
  'forceNonUnique',
]);

const unknownField = (path: string) =>
  new CommandError(40415, `BSON field '${path}' is an unknown field.`, { codeName: 'Location40415' });

const invalidOptions = (message: string) => new CommandError(ErrorCodes.InvalidOptions, message);

function typeName(value: unknown): string {
  if (typeof value === 'string') return 'string';
  if (typeof value === 'boolean') return 'bool';
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'double';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return bsonTypeOf(value)?.toLowerCase() ?? 'object';
}

function wrongType(path: string, value: unknown, expected: string): CommandError {
  return typeMismatch(`BSON field '${path}' is the wrong type '${typeName(value)}', expected ${expected}`);
}

/** A key pattern the way mongod prints a BSONObj in error messages: `{ a: 1, b: -1 }`. */
function shellForm(doc: Document): string {
  const fields = Object.entries(doc).map(([k, v]) => `${k}: ${typeof v === 'string' ? JSON.stringify(v) : String(v)}`);
  return fields.length === 0 ? '{}' : `{ ${fields.join(', ')} }`;
}

interface IndexModification {
  target: { name: string } | { keyPattern: Document };
  expireAfterSeconds?: number;
  hidden?: boolean;
}

/** Parses `index: { ... }` the way mongod's IDL does: unknown fields, then types. */
function parseIndexOption(index: unknown): IndexModification | undefined {
  if (index === undefined || index === null) return undefined;
  if (!isPlainObject(index)) throw wrongType('collMod.index', index, "type 'object'");
  for (const field of Object.keys(index)) if (!INDEX_FIELDS.has(field)) throw unknownField(`collMod.index.${field}`);
  const { name, keyPattern, expireAfterSeconds, hidden } = index;
  if (name !== undefined && typeof name !== 'string') throw wrongType('collMod.index.name', name, "type 'string'");
  if (keyPattern !== undefined && !isPlainObject(keyPattern))
    throw wrongType('collMod.index.keyPattern', keyPattern, "type 'object'");
  if (expireAfterSeconds !== undefined && !isNumeric(expireAfterSeconds))
    throw wrongType('collMod.index.expireAfterSeconds', expireAfterSeconds, "types '[long, int, decimal, double]'");
  if (hidden !== undefined && typeof hidden !== 'boolean')
    throw wrongType('collMod.index.hidden', hidden, "type 'bool'");

  if (name !== undefined && keyPattern !== undefined) throw invalidOptions('Cannot specify both key pattern and name.');
  if (name === undefined && keyPattern === undefined)
    throw invalidOptions('Must specify either index name or key pattern.');
  if (
    expireAfterSeconds === undefined &&
    hidden === undefined &&
    index.unique === undefined &&
    index.prepareUnique === undefined
  ) {
    throw invalidOptions('no expireAfterSeconds, hidden, unique, or prepareUnique field');
  }
  if (index.unique !== undefined || index.prepareUnique !== undefined || index.forceNonUnique !== undefined) {
    throw invalidOptions('collMod converting an index to or from unique is not supported by the stand-in');
  }
  return {
    target: name !== undefined ? { name: name as string } : { keyPattern: keyPattern as Document },
    expireAfterSeconds: expireAfterSeconds === undefined ? undefined : Math.trunc(toNumber(expireAfterSeconds)),
    hidden: hidden as boolean | undefined,
  };
}

function validateExpireAfterSeconds(seconds: number, collection: Collection): void {
  if (collection.isCapped) throw invalidOptions('TTL indexes are not supported for capped collections.');
  if (seconds < 0) throw invalidOptions("TTL index 'expireAfterSeconds' option cannot be less than 0");
  if (!Number.isSafeInteger(seconds * 1000)) {
    throw invalidOptions(
      "TTL index 'expireAfterSeconds' option must be within an acceptable range, try a lower number",
    );
  }
}

function findIndexName(collection: Collection, target: IndexModification['target']): string {
  if ('name' in target) {
    if (!collection.indexSpecs().some((s) => s.name === target.name)) {
      throw new CommandError(ErrorCodes.IndexNotFound, `cannot find index ${target.name} for ns ${collection.ns}`);
    }
    return target.name;
  }
  const name = collection.indexNameForKey(target.keyPattern);
  if (name === undefined) {
    throw new CommandError(
      ErrorCodes.IndexNotFound,
      `cannot find index ${shellForm(target.keyPattern)} for ns ${collection.ns}`,
    );
  }
  return name;
}

/** The collection options collMod sets (undefined: remove), checked as mongod checks them. */
function collectionChanges(cmd: Document, collection: Collection): Document {
  const changes: Document = parseSharedOptions(cmd, 'collMod');
  if (collection.isView) {
    for (const option of [
      'validator',
      'validationLevel',
      'validationAction',
      'changeStreamPreAndPostImages',
      'cappedSize',
      'cappedMax',
      'expireAfterSeconds',
    ]) {
      if (cmd[option] !== undefined) throw invalidOptions(`option not supported on a view: ${option}`);
    }
    if (cmd.viewOn !== undefined || cmd.pipeline !== undefined) {
      if (typeof cmd.viewOn !== 'string' || cmd.viewOn.length === 0 || !Array.isArray(cmd.pipeline)) {
        throw invalidOptions("must specify both 'viewOn' and 'pipeline' when modifying a view and auth is enabled");
      }
      changes.viewOn = cmd.viewOn;
      changes.pipeline = cmd.pipeline;
    }
    return changes;
  }
  for (const option of ['viewOn', 'pipeline']) {
    if (cmd[option] !== undefined) throw invalidOptions(`option only supported on a view: ${option}`);
  }
  if (cmd.expireAfterSeconds !== undefined) {
    if (collection.options.clusteredIndex === undefined && !collection.isTimeseries) {
      throw invalidOptions("'expireAfterSeconds' option is only supported on collections clustered by _id");
    }
    const value = cmd.expireAfterSeconds;
    if (value === 'off') changes.expireAfterSeconds = undefined;
    else if (isNumeric(value) && toNumber(value) >= 0) changes.expireAfterSeconds = Long.fromNumber(toNumber(value));
    else throw invalidOptions("'expireAfterSeconds' must be a non-negative number or 'off'");
  }
  for (const [option, field] of [
    ['cappedSize', 'size'],
    ['cappedMax', 'max'],
  ] as const) {
    const value = cmd[option];
    if (value === undefined) continue;
    if (!collection.isCapped)
      throw invalidOptions(`collMod on a non-capped collection: ${option} is only supported on capped collections`);
    if (!isNumeric(value) || toNumber(value) < 0) throw invalidOptions(`${option} must be a non-negative number`);
    changes[field] = option === 'cappedSize' ? Math.max(4096, Math.ceil(toNumber(value) / 256) * 256) : toNumber(value);
  }
  return changes;
}

/**
 * `collMod` (https://www.mongodb.com/docs/manual/reference/command/collMod/): validation, pre/post images,
 * view definitions, clustered TTL, capped size and index options. Each collMod, even an empty one, is one
 * catalog change: the 'modify' event of showExpandedEvents streams, with the options before it.
 */
function collMod(cmd: Document, ctx: CommandContext): Document {
  const name = collectionNameArg(cmd, 'collMod', ctx);
  for (const option of Object.keys(cmd).slice(1)) {
    if (option === 'index' || COLLECTION_OPTIONS.has(option) || GENERIC_ARGUMENTS.has(option)) continue;
    if (UNSUPPORTED_OPTIONS.has(option))
      throw invalidOptions(`option '${option}' of collMod is not supported by the stand-in`);
    throw unknownField(`collMod.${option}`);
  }
  const modification = parseIndexOption(cmd.index);
  const collection = ctx.member.store.collection(ctx.db, name);
  if (!collection) throw new CommandError(ErrorCodes.NamespaceNotFound, 'ns does not exist');
  if (modification && collection.isView) throw invalidOptions('option not supported on a view: index');
  const changes = collectionChanges(cmd, collection);
  const operationDescription: Document = {};
  for (const [key, value] of Object.entries(cmd).slice(1)) {
    if (!GENERIC_ARGUMENTS.has(key)) operationDescription[key] = value;
  }
  const stateBeforeChange: Document = { collectionOptions: { ...collection.options } };
  const reply: Document = {};
  if (modification) {
    const { expireAfterSeconds, hidden } = modification;
    if (expireAfterSeconds !== undefined) validateExpireAfterSeconds(expireAfterSeconds, collection);
    const indexName = findIndexName(collection, modification.target);
    const spec = collection.indexSpecs().find((s) => s.name === indexName)!;
    const indexOptionsBefore: Document = {};
    if (expireAfterSeconds !== undefined) {
      const old = spec.expireAfterSeconds;
      if (old === undefined) {
        // mongod 5.1+ turns a plain single-field index into a TTL index.
        if (indexName === '_id_') throw invalidOptions('the _id field does not support TTL indexes');
        if (Object.keys(spec.key).length !== 1) {
          throw invalidOptions('TTL indexes are single-field indexes, compound indexes do not support TTL');
        }
      } else {
        reply.expireAfterSeconds_old = Long.fromNumber(old);
        indexOptionsBefore.expireAfterSeconds = Long.fromNumber(old);
      }
      reply.expireAfterSeconds_new = Long.fromNumber(expireAfterSeconds);
    }
    if (hidden !== undefined) {
      if (indexName === '_id_') throw new CommandError(ErrorCodes.BadValue, "can't hide _id index");
      // Hiding a hidden index (or unhiding a visible one) is a no-op that mongod does not report.
      if ((spec.hidden === true) !== hidden) {
        reply.hidden_old = spec.hidden === true;
        reply.hidden_new = hidden;
        indexOptionsBefore.hidden = spec.hidden === true;
      }
    }
    stateBeforeChange.indexOptions = indexOptionsBefore;
    collection.updateIndexOptions(indexName, { expireAfterSeconds, hidden });
  }
  collection.modify(changes, { operationType: 'modify', operationDescription, stateBeforeChange });
  reply.ok = 1;
  return reply;
}

export const collModCommands: Record<string, CommandSpec> = {
  collMod: { handler: collMod, write: true },
};
