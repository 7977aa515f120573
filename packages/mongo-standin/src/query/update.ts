import { Timestamp, type Document } from 'bson';
import { badValue, CommandError, ErrorCodes, failedToParse } from '../errors.js';
import { compileDocumentStage, stageParts } from '../pipeline.js';
import { documentVariables, rootScope, type Variables } from './expressions.js';
import { compileFilter, type Matcher } from './match.js';
import { arithmetic } from './numbers.js';
import { getPath, hasPath } from './paths.js';
import type { OperatorLog } from './update-description.js';
import { cloneValue, compareValues, isNumeric, isPlainObject, toNumber, valuesEqual } from './values.js';

/**
 * Updates (https://www.mongodb.com/docs/manual/reference/operator/update/ and
 * https://www.mongodb.com/docs/manual/tutorial/update-documents-with-aggregation-pipeline/): operator
 * documents (with the positional `$[]` and filtered `$[<id>]` forms and `arrayFilters`), replacement
 * documents, and pipelines of $addFields/$set, $project, $unset, $replaceRoot/$replaceWith.
 */
export interface UpdateOutcome {
  doc: Document;
  kind: 'operators' | 'replacement' | 'pipeline';
  /** For operator updates: what mongod's update log records (for the change event's updateDescription). */
  log?: OperatorLog;
}

export interface UpdateOptions {
  inserting: boolean;
  /** `let` and system variables for pipeline updates. */
  variables?: Variables;
  /** `arrayFilters`, compiled. */
  arrayFilters?: Map<string, Matcher>;
}

const pathNotViable = (msg: string) => new CommandError(28, msg, { codeName: 'PathNotViable' });

/** Stages a pipeline-style update may use (mongod refuses the others with InvalidOptions). */
const UPDATE_STAGES = new Set(['$addFields', '$set', '$project', '$unset', '$replaceRoot', '$replaceWith']);

export function isOperatorUpdate(update: Document | Document[]): boolean {
  if (Array.isArray(update)) return false;
  const keys = Object.keys(update);
  return keys.length > 0 && keys.every((k) => k.startsWith('$'));
}

/** Validates an update's shape once, before any document is touched. */
export function validateUpdate(update: unknown): asserts update is Document | Document[] {
  if (Array.isArray(update)) {
    for (const stage of update) {
      const [name] = stageParts(stage);
      if (!UPDATE_STAGES.has(name)) {
        throw new CommandError(ErrorCodes.InvalidOptions, `${name} is not allowed to be used within an update`);
      }
    }
    return;
  }
  if (!isPlainObject(update)) throw failedToParse('update must be an object or an aggregation pipeline');
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

/** Compiles `arrayFilters` (each `{ <id>.<path>: <condition> }` or `{ <id>: <condition> }`). */
export function compileArrayFilters(filters: unknown): Map<string, Matcher> | undefined {
  if (filters === undefined || filters === null) return undefined;
  if (!Array.isArray(filters)) throw failedToParse("BSON field 'arrayFilters' must be an array");
  const out = new Map<string, Matcher>();
  for (const filter of filters) {
    if (!isPlainObject(filter) || Object.keys(filter).length === 0) {
      throw new CommandError(
        ErrorCodes.FailedToParse,
        'Cannot use an expression without a top-level field name in arrayFilters',
      );
    }
    const ids = new Set(Object.keys(filter).map((k) => k.split('.')[0]!));
    if (ids.size !== 1) {
      throw new CommandError(ErrorCodes.FailedToParse, 'Each array filter must use a single top-level field name');
    }
    const id = [...ids][0]!;
    if (!/^[a-z][a-zA-Z0-9]*$/.test(id)) {
      throw badValue(
        `The top-level field name must be an alphanumeric string beginning with a lowercase letter, found '${id}'`,
      );
    }
    if (out.has(id))
      throw new CommandError(
        ErrorCodes.FailedToParse,
        `Found multiple array filters with the same top-level field name ${id}`,
      );
    out.set(id, compileFilter(filter));
  }
  return out;
}

/** Applies an update to a copy of `doc`; `doc` itself is never modified. */
export function applyUpdate(doc: Document, update: Document | Document[], options: UpdateOptions): UpdateOutcome {
  validateUpdate(update);
  if (Array.isArray(update)) return applyPipeline(doc, update, options);
  if (!isOperatorUpdate(update)) {
    for (const key of Object.keys(update)) {
      if (key.startsWith('$')) {
        throw new CommandError(
          ErrorCodes.DollarPrefixedFieldName,
          `The dollar ($) prefixed field '${key}' in '${key}' is not allowed in the context of an update's replacement document. Consider using an aggregation pipeline with $replaceWith.`,
        );
      }
    }
    const next: Document = { _id: doc._id, ...cloneValue(update) };
    if ('_id' in update && doc._id !== undefined && !valuesEqual(update._id, doc._id)) {
      throw new CommandError(
        ErrorCodes.ImmutableField,
        "After applying the update, the (immutable) field '_id' was found to have been altered",
      );
    }
    if (next._id === undefined) delete next._id;
    return { doc: next, kind: 'replacement' };
  }
  const next = cloneValue(doc);
  const state: ApplyState = {
    doc: next,
    replaced: new Set(),
    appended: new Set(),
    inserting: options.inserting,
    arrayFilters: options.arrayFilters,
  };
  const used = new Set<string>();
  for (const [op, fields] of Object.entries(update)) {
    for (const [path, arg] of Object.entries(fields as Document)) {
      if (path === '') throw badValue('An empty update path is not valid.');
      for (const concrete of expandPositional(next, path, state, used)) operators[op]!(state, concrete, arg);
    }
  }
  if (options.arrayFilters) {
    for (const id of options.arrayFilters.keys()) {
      if (!used.has(id)) {
        throw new CommandError(
          ErrorCodes.FailedToParse,
          `The array filter for identifier '${id}' was not used in the update ${JSON.stringify(update)}`,
        );
      }
    }
  }
  if (!options.inserting && doc._id !== undefined && !valuesEqual(next._id, doc._id)) {
    throw new CommandError(
      ErrorCodes.ImmutableField,
      "Performing an update on the path '_id' would modify the immutable field '_id'",
    );
  }
  return { doc: next, kind: 'operators', log: { replaced: state.replaced, appended: state.appended } };
}

function applyPipeline(doc: Document, pipeline: Document[], options: UpdateOptions): UpdateOutcome {
  const variables = options.variables ?? { NOW: new Date() };
  const scope = rootScope(Object.keys(variables));
  let current = doc;
  for (const stage of pipeline) {
    const [name, arg] = stageParts(stage);
    const compiled = compileDocumentStage(name, arg, scope)!;
    current = compiled(current, documentVariables(current, variables)) ?? current;
  }
  if (doc._id !== undefined) {
    if (current._id === undefined) current = { _id: doc._id, ...current };
    else if (!valuesEqual(current._id, doc._id)) {
      throw new CommandError(
        ErrorCodes.ImmutableField,
        "After applying the update, the (immutable) field '_id' was found to have been altered",
      );
    }
  }
  return { doc: current, kind: 'pipeline' };
}

/**
 * The concrete paths a path with positional components stands for in `doc`: `$[]` is every element,
 * `$[<id>]` every element its array filter matches. The plain positional `$` needs the query's match
 * position, which the stand-in does not track: it is refused.
 */
function expandPositional(doc: Document, path: string, state: ApplyState, used: Set<string>): string[] {
  const parts = path.split('.');
  if (!parts.some((p) => p.startsWith('$'))) return [path];
  let prefixes: string[][] = [[]];
  for (const part of parts) {
    if (!part.startsWith('$')) {
      prefixes = prefixes.map((p) => [...p, part]);
      continue;
    }
    if (part === '$') {
      throw badValue(`the positional operator ('$', in '${path}') is not supported by the stand-in`);
    }
    const filtered = /^\$\[([a-zA-Z0-9]*)\]$/.exec(part);
    if (!filtered) throw badValue(`Unrecognized positional operator in path '${path}'`);
    const id = filtered[1]!;
    const matcher = id === '' ? undefined : state.arrayFilters?.get(id);
    if (id !== '' && !matcher) {
      throw badValue(`No array filter found for identifier '${id}' in path '${path}'`);
    }
    if (id !== '') used.add(id);
    const next: string[][] = [];
    for (const prefix of prefixes) {
      const array = getPath(doc, prefix.join('.'));
      if (!Array.isArray(array)) {
        if (array === undefined && state.inserting) continue;
        throw badValue(`The path '${prefix.join('.')}' must exist in the document in order to apply array updates.`);
      }
      array.forEach((element, index) => {
        if (!matcher || matcher({ [id]: element })) next.push([...prefix, String(index)]);
      });
    }
    prefixes = next;
  }
  return prefixes.map((p) => p.join('.'));
}

interface ApplyState {
  doc: Document;
  /** Paths operators wrote as a whole value (mongod's update log). */
  replaced: Set<string>;
  /** Arrays a plain $push appended to. */
  appended: Set<string>;
  inserting: boolean;
  arrayFilters?: Map<string, Matcher>;
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
  state.replaced.add(path);
}

function arithmeticOperator(name: string, multiply: boolean): Operator {
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
    // A missing field becomes the argument ($inc) or a zero of the argument's type ($mul), as mongod does.
    const base = current === undefined ? (multiply ? 0 : undefined) : current;
    setPath(state.doc, path, base === undefined ? arg : arithmetic(base, arg, multiply ? 'multiply' : 'add'));
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
    unsetPath(state.doc, path);
  },
  $inc: arithmeticOperator('inc', false),
  $mul: arithmeticOperator('mul', true),
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
    const existed = Array.isArray(getPath(state.doc, path));
    setPath(state.doc, path, result);
    // mongod logs a plain append element by element, any other $push as the whole array.
    const plainAppend =
      existed && modifiers.$position === undefined && modifiers.$sort === undefined && modifiers.$slice === undefined;
    if (plainAppend && !state.replaced.has(path)) state.appended.add(path);
    else record(state, path);
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
