import { Long, type Document } from 'bson';
import { CommandError, ErrorCodes, typeMismatch } from '../errors.js';
import { bsonTypeOf, isNumeric, isPlainObject, toNumber } from '../query/values.js';
import type { Collection } from '../store.js';
import { collectionNameArg, type CommandContext, type CommandSpec } from './context.js';

/**
 * `collMod` — only its `index` option (change a TTL index's `expireAfterSeconds`, or hide/unhide an index),
 * with mongod 7.0's checks, error codes and messages. Other collMod options are refused loudly.
 */

/** Arguments any command may carry (mongod's "generic arguments"); they change nothing here. */
const GENERIC_ARGUMENTS = new Set([
  '$db',
  '$clusterTime',
  '$readPreference',
  'lsid',
  'txnNumber',
  'writeConcern',
  'readConcern',
  'comment',
  'maxTimeMS',
  'apiVersion',
  'apiStrict',
  'apiDeprecationErrors',
]);

/** collMod options mongod has but the stand-in does not implement. */
const UNSUPPORTED_OPTIONS = new Set([
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
  'timeseries',
  'dryRun',
  'collectionUUID',
]);

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

function collMod(cmd: Document, ctx: CommandContext): Document {
  const name = collectionNameArg(cmd, 'collMod', ctx);
  for (const option of Object.keys(cmd).slice(1)) {
    if (option === 'index' || GENERIC_ARGUMENTS.has(option)) continue;
    if (UNSUPPORTED_OPTIONS.has(option))
      throw invalidOptions(`option '${option}' of collMod is not supported by the stand-in`);
    throw unknownField(`collMod.${option}`);
  }
  const modification = parseIndexOption(cmd.index);
  const collection = ctx.member.store.collection(ctx.db, name);
  if (!collection) throw new CommandError(ErrorCodes.NamespaceNotFound, 'ns does not exist');
  if (!modification) return { ok: 1 };

  const { expireAfterSeconds, hidden } = modification;
  if (expireAfterSeconds !== undefined) validateExpireAfterSeconds(expireAfterSeconds, collection);
  const indexName = findIndexName(collection, modification.target);
  const spec = collection.indexSpecs().find((s) => s.name === indexName)!;
  const reply: Document = {};
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
    }
    reply.expireAfterSeconds_new = Long.fromNumber(expireAfterSeconds);
  }
  if (hidden !== undefined) {
    if (indexName === '_id_') throw new CommandError(ErrorCodes.BadValue, "can't hide _id index");
    // Hiding a hidden index (or unhiding a visible one) is a no-op that mongod does not report.
    if ((spec.hidden === true) !== hidden) {
      reply.hidden_old = spec.hidden === true;
      reply.hidden_new = hidden;
    }
  }
  collection.updateIndexOptions(indexName, { expireAfterSeconds, hidden });
  reply.ok = 1;
  return reply;
}

export const collModCommands: Record<string, CommandSpec> = {
  collMod: { handler: collMod, write: true },
};
