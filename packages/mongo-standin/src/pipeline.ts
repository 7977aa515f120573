import type { Document } from 'bson';
import { badValue, CommandError, ErrorCodes } from './errors.js';
import { compileFilter } from './query/match.js';
import { getPath } from './query/paths.js';
import { compileProjection } from './query/project.js';
import { sortDocuments } from './query/sort.js';
import { canonicalKey, compareValues, isNumeric, isPlainObject, toNumber } from './query/values.js';

/**
 * The aggregation stages a test suite typically needs (what countDocuments() and simple reports send):
 * $match, $sort, $skip, $limit, $count, $project, $unset, $group (with $sum/$avg/$min/$max/$first/$last/$push).
 */
export function runPipeline(input: Document[], pipeline: Document[]): Document[] {
  let docs = input;
  for (const stage of pipeline) {
    if (!isPlainObject(stage) || Object.keys(stage).length !== 1) {
      throw new CommandError(40323, 'A pipeline stage specification object must contain exactly one field.', {
        codeName: 'Location40323',
      });
    }
    const [name, arg] = Object.entries(stage)[0]!;
    docs = runStage(docs, name, arg);
  }
  return docs;
}

function runStage(docs: Document[], name: string, arg: unknown): Document[] {
  switch (name) {
    case '$match':
      return docs.filter(compileFilter(arg));
    case '$sort':
      return sortDocuments(docs, arg);
    case '$skip':
      return docs.slice(nonNegative(name, arg));
    case '$limit': {
      const n = nonNegative(name, arg);
      if (n === 0) throw badValue('the limit must be positive');
      return docs.slice(0, n);
    }
    case '$count': {
      if (typeof arg !== 'string' || arg.length === 0 || arg.startsWith('$') || arg.includes('.')) {
        throw badValue('the count field must be a non-empty string that does not start with $ or contain .');
      }
      return docs.length === 0 ? [] : [{ [arg]: docs.length }];
    }
    case '$project':
      return docs.map(compileProjection(arg));
    case '$unset': {
      const fields = Array.isArray(arg) ? arg : [arg];
      return docs.map(compileProjection(Object.fromEntries(fields.map((f) => [String(f), 0]))));
    }
    case '$group':
      return group(docs, arg);
    case '$changeStream':
      throw new CommandError(40602, '$changeStream is only valid as the first stage in a pipeline.', {
        codeName: 'Location40602',
      });
    default:
      throw new CommandError(40324, `Unrecognized pipeline stage name: '${name}' (not supported by the stand-in)`, {
        codeName: 'Location40324',
      });
  }
}

function nonNegative(stage: string, arg: unknown): number {
  if (!isNumeric(arg) || toNumber(arg) < 0) throw badValue(`invalid argument to ${stage} stage`);
  return Math.trunc(toNumber(arg));
}

/** Field paths ('$a.b') and literals; operator expressions are beyond the stand-in. */
function evaluate(expr: unknown, doc: Document): unknown {
  if (typeof expr === 'string' && expr.startsWith('$')) return getPath(doc, expr.slice(1));
  if (isPlainObject(expr)) {
    const keys = Object.keys(expr);
    if (keys[0]?.startsWith('$'))
      throw new CommandError(ErrorCodes.BadValue, `expression ${keys[0]} is not supported by the stand-in`);
    return Object.fromEntries(keys.map((k) => [k, evaluate(expr[k], doc)]));
  }
  return expr;
}

type Accumulator = { add(doc: Document): void; result(): unknown };

function accumulator(spec: unknown, field: string): Accumulator {
  if (!isPlainObject(spec) || Object.keys(spec).length !== 1)
    throw badValue(`The field '${field}' must be an accumulator object`);
  const [op, expr] = Object.entries(spec)[0]!;
  let values: unknown[] = [];
  const collect = { add: (doc: Document) => void values.push(evaluate(expr, doc)) };
  switch (op) {
    case '$sum':
      return { ...collect, result: () => values.filter(isNumeric).reduce<number>((s, v) => s + toNumber(v), 0) };
    case '$avg':
      return {
        ...collect,
        result: () => {
          const nums = values.filter(isNumeric).map(toNumber);
          return nums.length === 0 ? null : nums.reduce((a, b) => a + b, 0) / nums.length;
        },
      };
    case '$min':
    case '$max':
      return {
        ...collect,
        result: () => {
          values = values.filter((v) => v !== undefined && v !== null);
          if (values.length === 0) return null;
          return values.reduce((a, b) => (compareValues(a, b) < 0 === (op === '$min') ? a : b));
        },
      };
    case '$first':
      return { ...collect, result: () => values[0] ?? null };
    case '$last':
      return { ...collect, result: () => values[values.length - 1] ?? null };
    case '$push':
      return { ...collect, result: () => values.filter((v) => v !== undefined) };
    default:
      throw badValue(`unknown group operator '${op}'`);
  }
}

function group(docs: Document[], spec: unknown): Document[] {
  if (!isPlainObject(spec) || !('_id' in spec)) throw badValue('a group specification must include an _id');
  const groups = new Map<string, { id: unknown; accumulators: Array<[string, Accumulator]> }>();
  for (const doc of docs) {
    const id = evaluate(spec._id, doc) ?? null;
    const key = canonicalKey(id);
    let entry = groups.get(key);
    if (!entry) {
      entry = {
        id,
        accumulators: Object.entries(spec)
          .filter(([k]) => k !== '_id')
          .map(([k, v]) => [k, accumulator(v, k)]),
      };
      groups.set(key, entry);
    }
    for (const [, acc] of entry.accumulators) acc.add(doc);
  }
  return [...groups.values()].map(({ id, accumulators }) => ({
    _id: id,
    ...Object.fromEntries(accumulators.map(([k, a]) => [k, a.result()])),
  }));
}
