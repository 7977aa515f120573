import type { Document } from 'bson';
import { badValue, CommandError, ErrorCodes } from '../errors.js';
import { compileJsonSchema } from './json-schema.js';
import { valuesAtPath } from './paths.js';
import {
  compileExpression,
  documentVariables,
  isTruthy,
  rootScope,
  type Scope,
  type Variables,
} from './expressions.js';
import { compareValues, isPlainObject, rankOf, toNumber, TypeRank, valuesEqual } from './values.js';

/**
 * A compiled query filter. Compiling validates the whole filter up front, as mongod does. `vars` are the
 * aggregation variables `$expr` sees (`let` values, `$$NOW`); without them, those given when compiling.
 */
export type Matcher = (doc: Document, vars?: Variables) => boolean;

export interface FilterOptions {
  /** Variable names `$expr` may use (`let`). */
  scope?: Scope;
  /** Their values, when the caller does not pass variables per document. */
  variables?: Variables;
}

/** Compiles a MongoDB query filter (`find`'s `filter`, `$match`, update/delete `q`). */
export function compileFilter(filter: unknown, options: FilterOptions = {}): Matcher {
  if (filter === undefined || filter === null) return () => true;
  if (!isPlainObject(filter)) throw badValue('filter must be an object');
  const clauses: Matcher[] = [];
  for (const [key, value] of Object.entries(filter)) {
    clauses.push(compileTopLevel(key, value, options));
  }
  if (clauses.length === 1) return clauses[0]!;
  return (doc, vars) => clauses.every((clause) => clause(doc, vars));
}

function compileClauseList(op: string, value: unknown, options: FilterOptions): Matcher[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw badValue(`${op} argument must be a non-empty array`);
  }
  return value.map((clause) => {
    if (!isPlainObject(clause)) throw badValue(`${op} argument's entries must be objects`);
    return compileFilter(clause, options);
  });
}

function compileTopLevel(key: string, value: unknown, options: FilterOptions): Matcher {
  switch (key) {
    case '$and': {
      const all = compileClauseList(key, value, options);
      return (doc, vars) => all.every((m) => m(doc, vars));
    }
    case '$or': {
      const any = compileClauseList(key, value, options);
      return (doc, vars) => any.some((m) => m(doc, vars));
    }
    case '$nor': {
      const none = compileClauseList(key, value, options);
      return (doc, vars) => !none.some((m) => m(doc, vars));
    }
    case '$expr': {
      const expr = compileExpression(value, options.scope ?? rootScope(Object.keys(options.variables ?? {})));
      return (doc, vars) => isTruthy(expr(documentVariables(doc, vars ?? options.variables)));
    }
    case '$jsonSchema': {
      const test = compileJsonSchema(value);
      return (doc) => test(doc);
    }
    case '$comment':
      return () => true;
    default:
      if (key.startsWith('$')) throw badValue(`unknown top level operator: ${key}`);
      return compileFieldCondition(key, value);
  }
}

type ValueTest = (candidates: unknown[]) => boolean;

function isOperatorObject(value: unknown): value is Document {
  if (!isPlainObject(value)) return false;
  const keys = Object.keys(value);
  return keys.length > 0 && keys[0]!.startsWith('$');
}

function compileFieldCondition(path: string, condition: unknown): Matcher {
  const test = isOperatorObject(condition) ? compileOperators(condition) : equalsTest(condition);
  return (doc) => test(valuesAtPath(doc, path));
}

/** Candidates plus, for each array candidate, its elements: MongoDB's implicit array matching. */
function expand(candidates: unknown[]): unknown[] {
  const out: unknown[] = [];
  for (const c of candidates) {
    out.push(c);
    if (Array.isArray(c)) out.push(...c);
  }
  return out;
}

function regexOf(value: unknown, options?: string): RegExp {
  if (value instanceof RegExp) return options === undefined ? value : new RegExp(value.source, options);
  const tagged = value as { pattern?: string; options?: string };
  if (typeof tagged?.pattern === 'string')
    return new RegExp(tagged.pattern, (options ?? tagged.options ?? '').replace(/[^imsu]/g, ''));
  if (typeof value === 'string') return new RegExp(value, (options ?? '').replace(/[^imsu]/g, ''));
  throw badValue('$regex has to be a string');
}

function valueMatches(candidate: unknown, target: unknown): boolean {
  if (rankOf(target) === TypeRank.RegExp && rankOf(candidate) !== TypeRank.RegExp) {
    return typeof candidate === 'string' && regexOf(target).test(candidate);
  }
  if (target === null) return candidate === null || candidate === undefined;
  return rankOf(candidate) === rankOf(target) && valuesEqual(candidate, target);
}

function equalsTest(target: unknown): ValueTest {
  return (candidates) => expand(candidates).some((c) => valueMatches(c, target));
}

function comparisonTest(target: unknown, accept: (c: number) => boolean): ValueTest {
  return (candidates) =>
    expand(candidates).some((c) => {
      if (target === null) return (c === null || c === undefined) && accept(0);
      return rankOf(c) === rankOf(target) && accept(compareValues(c, target));
    });
}

function compileOperators(ops: Document): ValueTest {
  const tests: ValueTest[] = [];
  for (const [op, arg] of Object.entries(ops)) {
    tests.push(compileOperator(op, arg, ops));
  }
  return (candidates) => tests.every((t) => t(candidates));
}

function compileOperator(op: string, arg: unknown, all: Document): ValueTest {
  switch (op) {
    case '$eq':
      return equalsTest(arg);
    case '$ne': {
      const eq = equalsTest(arg);
      return (c) => !eq(c);
    }
    case '$gt':
      return comparisonTest(arg, (c) => c > 0);
    case '$gte':
      return comparisonTest(arg, (c) => c >= 0);
    case '$lt':
      return comparisonTest(arg, (c) => c < 0);
    case '$lte':
      return comparisonTest(arg, (c) => c <= 0);
    case '$in': {
      if (!Array.isArray(arg)) throw badValue('$in needs an array');
      const targets = arg;
      return (c) => expand(c).some((v) => targets.some((t) => valueMatches(v, t)));
    }
    case '$nin': {
      if (!Array.isArray(arg)) throw badValue('$nin needs an array');
      const targets = arg;
      return (c) => !expand(c).some((v) => targets.some((t) => valueMatches(v, t)));
    }
    case '$exists': {
      const want = Boolean(arg);
      return (c) => c.some((v) => v !== undefined) === want;
    }
    case '$not': {
      if (!isOperatorObject(arg) && rankOf(arg) !== TypeRank.RegExp) throw badValue('$not needs a regex or a document');
      const inner = isOperatorObject(arg) ? compileOperators(arg) : equalsTest(arg);
      return (c) => !inner(c);
    }
    case '$regex': {
      const re = regexOf(arg, typeof all.$options === 'string' ? all.$options : undefined);
      return (c) => expand(c).some((v) => typeof v === 'string' && re.test(v));
    }
    case '$options':
      if (!('$regex' in all)) throw badValue('$options needs a $regex');
      return () => true;
    case '$size': {
      const size = toNumber(arg);
      if (!Number.isInteger(size) || size < 0) throw badValue('$size needs a non-negative integer');
      return (c) => c.some((v) => Array.isArray(v) && v.length === size);
    }
    case '$all': {
      if (!Array.isArray(arg)) throw badValue('$all needs an array');
      const targets = arg;
      return (c) => targets.length > 0 && targets.every((t) => expand(c).some((v) => valueMatches(v, t)));
    }
    case '$elemMatch': {
      if (!isPlainObject(arg)) throw badValue('$elemMatch needs an Object');
      const asDoc = compileFilter(arg);
      const asValue = isOperatorObject(arg) ? compileOperators(arg) : undefined;
      return (c) =>
        c.some(
          (v) =>
            Array.isArray(v) &&
            v.some((el) => (asValue && !isPlainObject(el) ? asValue([el]) : isPlainObject(el) && asDoc(el))),
        );
    }
    case '$type': {
      const wanted = (Array.isArray(arg) ? arg : [arg]).map(typeRankForAlias);
      return (c) => expand(c).some((v) => v !== undefined && wanted.includes(rankOf(v)));
    }
    case '$mod': {
      if (!Array.isArray(arg) || arg.length !== 2) throw badValue('malformed mod, needs to be an array of two numbers');
      const [divisor, remainder] = arg.map(toNumber) as [number, number];
      if (divisor === 0) throw badValue('divisor cannot be 0');
      return (c) =>
        expand(c).some((v) => rankOf(v) === TypeRank.Number && Math.trunc(toNumber(v)) % divisor === remainder);
    }
    case '$comment':
      return () => true;
    default:
      throw badValue(`unknown operator: ${op}`);
  }
}

const typeAliases: Record<string, TypeRank> = {
  double: TypeRank.Number,
  int: TypeRank.Number,
  long: TypeRank.Number,
  decimal: TypeRank.Number,
  number: TypeRank.Number,
  string: TypeRank.String,
  object: TypeRank.Object,
  array: TypeRank.Array,
  binData: TypeRank.BinData,
  objectId: TypeRank.ObjectId,
  bool: TypeRank.Boolean,
  date: TypeRank.Date,
  null: TypeRank.Null,
  regex: TypeRank.RegExp,
  timestamp: TypeRank.Timestamp,
  minKey: TypeRank.MinKey,
  maxKey: TypeRank.MaxKey,
};
const typeNumbers: Record<number, TypeRank> = {
  1: TypeRank.Number,
  2: TypeRank.String,
  3: TypeRank.Object,
  4: TypeRank.Array,
  5: TypeRank.BinData,
  7: TypeRank.ObjectId,
  8: TypeRank.Boolean,
  9: TypeRank.Date,
  10: TypeRank.Null,
  11: TypeRank.RegExp,
  16: TypeRank.Number,
  17: TypeRank.Timestamp,
  18: TypeRank.Number,
  19: TypeRank.Number,
  [-1]: TypeRank.MinKey,
  127: TypeRank.MaxKey,
};

function typeRankForAlias(alias: unknown): TypeRank {
  const rank = typeof alias === 'string' ? typeAliases[alias] : typeNumbers[toNumber(alias)];
  if (rank === undefined) throw new CommandError(ErrorCodes.BadValue, `unknown type name alias: ${String(alias)}`);
  return rank;
}
