import { Long, Timestamp, type Document } from 'bson';
import { badValue, CommandError, ErrorCodes, failedToParse } from '../errors.js';
import { compileFilter } from './match.js';
import { getPath, hasPath } from './paths.js';
import { bsonTypeOf, cloneValue, compareValues, isNumeric, isPlainObject, toNumber, valuesEqual } from './values.js';

/** What an update did, in the shape change events report it (`updateDescription`). */
export interface UpdateOutcome {
  doc: Document;
  /** Top-most paths written by operators, in order. */
  updatedPaths: string[];
  removedPaths: string[];
  /** True when the update is a replacement document rather than operators. */
  replacement: boolean;
}

const pathNotViable = (msg: string) => new CommandError(28, msg, { codeName: 'PathNotViable' });

export function isOperatorUpdate(update: Document): boolean {
  const keys = Object.keys(update);
  return keys.length > 0 && keys.every((k) => k.startsWith('$'));
}

/** Validates an update document's shape once, before any document is touched. */
export function validateUpdate(update: unknown): asserts update is Document {
  if (Array.isArray(update))
    throw new CommandError(ErrorCodes.BadValue, 'aggregation pipeline updates are not supported by the stand-in');
  if (!isPlainObject(update)) throw failedToParse('update must be an object');
  const keys = Object.keys(update);
  const dollar = keys.filter((k) => k.startsWith('$'));
  if (dollar.length > 0 && dollar.length !== keys.length) {
    throw failedToParse(
      `Unknown modifier: ${keys.find((k) => !k.startsWith('$'))}. Expected a valid update modifier or pipeline-style update specified as an array`,
    );
  }
  for (const op of dollar) {
    if (!(op in operators))
      throw failedToParse(
        `Unknown modifier: ${op}. Expected a valid update modifier or pipeline-style update specified as an array`,
      );
    if (!isPlainObject(update[op]))
      throw failedToParse(`Modifiers operate on fields but we found type ${typeof update[op]} instead.`);
  }
}

/** Applies an update (operators or replacement) to a copy of `doc`; `doc` itself is never modified. */
export function applyUpdate(doc: Document, update: Document, options: { inserting: boolean }): UpdateOutcome {
  validateUpdate(update);
  if (!isOperatorUpdate(update)) {
    const next: Document = { _id: doc._id, ...cloneValue(update) };
    if ('_id' in update && doc._id !== undefined && !valuesEqual(update._id, doc._id)) {
      throw new CommandError(
        ErrorCodes.ImmutableField,
        "After applying the update, the (immutable) field '_id' was found to have been altered",
      );
    }
    if (next._id === undefined) delete next._id;
    return { doc: next, updatedPaths: [], removedPaths: [], replacement: true };
  }
  const next = cloneValue(doc);
  const state: ApplyState = { doc: next, updated: [], removed: [], inserting: options.inserting };
  for (const [op, fields] of Object.entries(update)) {
    for (const [path, arg] of Object.entries(fields as Document)) {
      if (path === '') throw badValue('An empty update path is not valid.');
      if (path.split('.').some((part) => part.startsWith('$'))) {
        throw badValue(
          `positional and filtered positional operators ('$', '$[]', '$[id]') are not supported by the stand-in: '${path}'`,
        );
      }
      operators[op]!(state, path, arg);
    }
  }
  if (!options.inserting && doc._id !== undefined && !valuesEqual(next._id, doc._id)) {
    throw new CommandError(
      ErrorCodes.ImmutableField,
      "Performing an update on the path '_id' would modify the immutable field '_id'",
    );
  }
  return { doc: next, updatedPaths: state.updated, removedPaths: state.removed, replacement: false };
}

interface ApplyState {
  doc: Document;
  updated: string[];
  removed: string[];
  inserting: boolean;
}

type Operator = (state: ApplyState, path: string, arg: unknown) => void;

function setPath(doc: Document, path: string, value: unknown): void {
  const parts = path.split('.');
  let cursor: unknown = doc;
  for (let i = 0; i < parts.length; i++) {
    const key = parts[i]!;
    const last = i === parts.length - 1;
    if (Array.isArray(cursor)) {
      if (!/^\d+$/.test(key)) throw pathNotViable(`Cannot create field '${key}' in element {${parts[i - 1]}: [...]}`);
      const index = Number(key);
      while (cursor.length < index) cursor.push(null);
      if (last) cursor[index] = value;
      else {
        if (cursor[index] === undefined || cursor[index] === null) cursor[index] = {};
        cursor = cursor[index];
      }
    } else if (isPlainObject(cursor)) {
      if (last) cursor[key] = value;
      else {
        if (cursor[key] === undefined || cursor[key] === null) cursor[key] = {};
        cursor = cursor[key];
      }
    } else {
      throw pathNotViable(`Cannot create field '${key}' in element {${parts[i - 1]}: ${JSON.stringify(cursor)}}`);
    }
  }
}

function unsetPath(doc: Document, path: string): boolean {
  const parts = path.split('.');
  const leaf = parts.pop()!;
  const parent = parts.length === 0 ? doc : getPath(doc, parts.join('.'));
  if (Array.isArray(parent) && /^\d+$/.test(leaf)) {
    const index = Number(leaf);
    if (index >= parent.length) return false;
    parent[index] = null;
    return true;
  }
  if (isPlainObject(parent) && Object.prototype.hasOwnProperty.call(parent, leaf)) {
    delete parent[leaf];
    return true;
  }
  return false;
}

function record(state: ApplyState, path: string): void {
  if (!state.updated.includes(path)) state.updated.push(path);
}

function addNumbers(a: unknown, b: unknown, multiply = false): unknown {
  const isLong = bsonTypeOf(a) === 'Long' || bsonTypeOf(b) === 'Long';
  if (isLong) {
    const x = bsonTypeOf(a) === 'Long' ? (a as Long) : Long.fromNumber(toNumber(a));
    const y = bsonTypeOf(b) === 'Long' ? (b as Long) : Long.fromNumber(toNumber(b));
    return multiply ? x.multiply(y) : x.add(y);
  }
  return multiply ? toNumber(a) * toNumber(b) : toNumber(a) + toNumber(b);
}

function arithmetic(name: string, multiply: boolean): Operator {
  return (state, path, arg) => {
    if (!isNumeric(arg))
      throw new CommandError(
        ErrorCodes.TypeMismatch,
        `Cannot ${name} with non-numeric argument: {${path}: ${JSON.stringify(arg)}}`,
      );
    const current = getPath(state.doc, path);
    if (current !== undefined && !isNumeric(current)) {
      throw new CommandError(
        ErrorCodes.TypeMismatch,
        `Cannot apply $${name} to a value of non-numeric type. {_id: ${JSON.stringify(state.doc._id)}} has the field '${path}' of non-numeric type ${typeof current}`,
      );
    }
    setPath(
      state.doc,
      path,
      current === undefined ? (multiply ? addNumbers(0, arg, true) : arg) : addNumbers(current, arg, multiply),
    );
    record(state, path);
  };
}

function eachOf(arg: unknown): { items: unknown[]; modifiers: Document } {
  if (isPlainObject(arg) && '$each' in arg) {
    if (!Array.isArray(arg.$each)) throw badValue('The argument to $each must be an array');
    return { items: arg.$each.map(cloneValue), modifiers: arg };
  }
  return { items: [cloneValue(arg)], modifiers: {} };
}

function arrayAt(state: ApplyState, path: string, op: string): unknown[] {
  const current = getPath(state.doc, path);
  if (current === undefined) return [];
  if (!Array.isArray(current)) {
    throw new CommandError(
      ErrorCodes.BadValue,
      `The field '${path}' must be an array but is of type ${typeof current} in document {_id: ${JSON.stringify(state.doc._id)}}`,
      { codeName: op === '$push' ? 'BadValue' : undefined },
    );
  }
  return [...current];
}

const operators: Record<string, Operator> = {
  $set(state, path, arg) {
    setPath(state.doc, path, cloneValue(arg));
    record(state, path);
  },
  $setOnInsert(state, path, arg) {
    if (!state.inserting) return;
    setPath(state.doc, path, cloneValue(arg));
    record(state, path);
  },
  $unset(state, path) {
    if (unsetPath(state.doc, path) && !state.removed.includes(path)) state.removed.push(path);
  },
  $inc: arithmetic('inc', false),
  $mul: arithmetic('mul', true),
  $min(state, path, arg) {
    const current = getPath(state.doc, path);
    if (current === undefined || compareValues(arg, current) < 0) {
      setPath(state.doc, path, cloneValue(arg));
      record(state, path);
    }
  },
  $max(state, path, arg) {
    const current = getPath(state.doc, path);
    if (current === undefined || compareValues(arg, current) > 0) {
      setPath(state.doc, path, cloneValue(arg));
      record(state, path);
    }
  },
  $currentDate(state, path, arg) {
    const wantsTimestamp = isPlainObject(arg) && arg.$type === 'timestamp';
    setPath(state.doc, path, wantsTimestamp ? new Timestamp({ t: Math.floor(Date.now() / 1000), i: 1 }) : new Date());
    record(state, path);
  },
  $rename(state, path, arg) {
    if (typeof arg !== 'string') throw badValue("The 'to' field for $rename must be a string");
    if (!hasPath(state.doc, path)) return;
    const value = getPath(state.doc, path);
    unsetPath(state.doc, path);
    if (!state.removed.includes(path)) state.removed.push(path);
    setPath(state.doc, arg, value);
    record(state, arg);
  },
  $push(state, path, arg) {
    const array = arrayAt(state, path, '$push');
    const { items, modifiers } = eachOf(arg);
    const position = modifiers.$position === undefined ? array.length : toNumber(modifiers.$position);
    array.splice(position < 0 ? Math.max(0, array.length + position) : position, 0, ...items);
    if (modifiers.$sort !== undefined) {
      const spec = modifiers.$sort;
      array.sort((a, b) =>
        isPlainObject(spec)
          ? Object.entries(spec).reduce(
              (acc, [k, dir]) =>
                acc || compareValues(getPath(a as Document, k), getPath(b as Document, k)) * toNumber(dir),
              0,
            )
          : compareValues(a, b) * toNumber(spec),
      );
    }
    let result = array;
    if (modifiers.$slice !== undefined) {
      const n = toNumber(modifiers.$slice);
      result = n >= 0 ? array.slice(0, n) : array.slice(n);
    }
    setPath(state.doc, path, result);
    record(state, path);
  },
  $addToSet(state, path, arg) {
    const array = arrayAt(state, path, '$addToSet');
    for (const item of eachOf(arg).items) if (!array.some((v) => valuesEqual(v, item))) array.push(item);
    setPath(state.doc, path, array);
    record(state, path);
  },
  $pull(state, path, arg) {
    if (getPath(state.doc, path) === undefined) return;
    const array = arrayAt(state, path, '$pull');
    const asDoc = isPlainObject(arg)
      ? compileFilter(Object.keys(arg)[0]?.startsWith('$') ? { v: arg } : arg)
      : undefined;
    const isOperator = isPlainObject(arg) && Object.keys(arg)[0]?.startsWith('$');
    const kept = array.filter((v) => {
      if (asDoc) return !(isOperator ? asDoc({ v }) : isPlainObject(v) && asDoc(v));
      return !valuesEqual(v, arg);
    });
    setPath(state.doc, path, kept);
    record(state, path);
  },
  $pullAll(state, path, arg) {
    if (!Array.isArray(arg)) throw badValue('$pullAll requires an array argument');
    const array = arrayAt(state, path, '$pullAll');
    setPath(
      state.doc,
      path,
      array.filter((v) => !arg.some((x) => valuesEqual(v, x))),
    );
    record(state, path);
  },
  $pop(state, path, arg) {
    const array = arrayAt(state, path, '$pop');
    if (toNumber(arg) < 0) array.shift();
    else array.pop();
    setPath(state.doc, path, array);
    record(state, path);
  },
};

/** Equality fields of a query, the seed of an upserted document (MongoDB's "equality extraction"). */
export function seedFromQuery(query: Document): Document {
  const seed: Document = {};
  const visit = (q: Document) => {
    for (const [key, value] of Object.entries(q)) {
      if (key === '$and' && Array.isArray(value)) value.forEach((c) => isPlainObject(c) && visit(c));
      else if (key.startsWith('$')) continue;
      else if (isPlainObject(value) && Object.keys(value)[0]?.startsWith('$')) {
        if ('$eq' in value) setPath(seed, key, cloneValue(value.$eq));
      } else setPath(seed, key, cloneValue(value));
    }
  };
  visit(query);
  return seed;
}
