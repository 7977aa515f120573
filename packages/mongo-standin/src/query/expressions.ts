import { Decimal128, Long, ObjectId, Timestamp, type Document } from 'bson';
import { CommandError, ErrorCodes } from '../errors.js';
import { arithmetic, asDouble, makeNumber, numberKind, widerKind } from './numbers.js';
import { bsonTypeOf, cloneValue, compareValues, isNumeric, isPlainObject, toNumber, valuesEqual } from './values.js';

/**
 * MongoDB's aggregation expression language (https://www.mongodb.com/docs/manual/reference/operator/aggregation/):
 * field paths (`'$a.b'`), variables (`'$$ROOT'`, `'$$CURRENT'`, `'$$NOW'`, `'$$CLUSTER_TIME'`, `'$$REMOVE'`,
 * `let` variables), literals, expression objects and the operators below, compiled once and evaluated per
 * document. A missing value is `undefined` (fields evaluating to it are left out, as in mongod). Operators the
 * stand-in does not have fail with mongod's "Unrecognized expression" (168) rather than being ignored.
 */
export type Variables = Record<string, unknown>;
export type Compiled = (vars: Variables) => unknown;

/** A compiled expression's scope: the variable names that may be referenced. */
export interface Scope {
  names: ReadonlySet<string>;
}

const SYSTEM_VARIABLES = new Set(['ROOT', 'CURRENT', 'NOW', 'CLUSTER_TIME', 'REMOVE', 'DESCEND', 'PRUNE', 'KEEP']);

export const rootScope = (names: Iterable<string> = []): Scope => ({ names: new Set(names) });

const exprError = (code: number, message: string) => new CommandError(code, message, { codeName: `Location${code}` });
const invalidOperator = (name: string) =>
  new CommandError(168, `Unrecognized expression '${name}'`, { codeName: 'InvalidPipelineOperator' });

/** Variables for evaluating against `doc` at the top of a stage. */
export function documentVariables(doc: Document, base: Variables = {}): Variables {
  return { ...base, ROOT: doc, CURRENT: doc };
}

/** Evaluates a field path on a value, mapping over arrays as aggregation does (numeric parts are field names). */
export function traversePath(value: unknown, parts: readonly string[], from = 0): unknown {
  let current = value;
  for (let i = from; i < parts.length; i++) {
    if (Array.isArray(current)) {
      const out: unknown[] = [];
      for (const element of current) {
        if (!isPlainObject(element) && !Array.isArray(element)) continue;
        const found = traversePath(element, parts, i);
        if (found !== undefined) out.push(found);
      }
      return out;
    }
    if (!isPlainObject(current)) return undefined;
    current = Object.prototype.hasOwnProperty.call(current, parts[i]!) ? current[parts[i]!] : undefined;
  }
  return current;
}

function compileFieldPath(path: string, scope: Scope): Compiled {
  if (path.startsWith('$$')) {
    const [name, ...parts] = path.slice(2).split('.');
    if (!name || (!SYSTEM_VARIABLES.has(name) && !scope.names.has(name))) {
      throw exprError(17276, `Use of undefined variable: ${name ?? ''}`);
    }
    if (name === 'REMOVE') return () => undefined;
    return parts.length === 0 ? (vars) => vars[name] : (vars) => traversePath(vars[name], parts);
  }
  const parts = path.slice(1).split('.');
  if (parts.some((p) => p.length === 0)) throw exprError(15998, 'FieldPath field names may not be empty strings.');
  if (parts[0]!.startsWith('$')) throw exprError(16410, "FieldPath field names may not start with '$'.");
  return (vars) => traversePath(vars.CURRENT, parts);
}

/** Compiles an expression. */
export function compileExpression(expr: unknown, scope: Scope = rootScope()): Compiled {
  if (typeof expr === 'string') {
    if (expr.startsWith('$')) return compileFieldPath(expr, scope);
    return () => expr;
  }
  if (Array.isArray(expr)) {
    const items = expr.map((e) => compileExpression(e, scope));
    return (vars) => items.map((item) => item(vars) ?? null);
  }
  if (isPlainObject(expr)) {
    const keys = Object.keys(expr);
    if (keys.length > 0 && keys[0]!.startsWith('$')) {
      if (keys.length > 1) {
        throw exprError(
          15983,
          `an expression specification must contain exactly one field, the name of the expression. Found ${keys.length} fields in ${JSON.stringify(expr)}`,
        );
      }
      return compileOperator(keys[0]!, expr[keys[0]!], scope);
    }
    const fields = keys.map((key) => {
      if (key.startsWith('$'))
        throw exprError(16410, `FieldPath field names may not start with '$'. Consider using $getField or $setField.`);
      return [key, compileExpression(expr[key], scope)] as const;
    });
    return (vars) => {
      const out: Document = {};
      for (const [key, field] of fields) {
        const value = field(vars);
        if (value !== undefined) out[key] = value;
      }
      return out;
    };
  }
  return () => expr;
}

/** Evaluates once (compiles and runs): for literals given by users, such as `let` values. */
export function evaluateExpression(expr: unknown, vars: Variables, scope?: Scope): unknown {
  return compileExpression(expr, scope ?? rootScope(Object.keys(vars)))(vars);
}

// --- operator helpers -------------------------------------------------------------------------

function argList(arg: unknown): unknown[] {
  return Array.isArray(arg) ? arg : [arg];
}

function compileArgs(name: string, arg: unknown, scope: Scope, count?: number | [number, number]): Compiled[] {
  const list = argList(arg);
  if (count !== undefined) {
    const [min, max] = typeof count === 'number' ? [count, count] : count;
    if (list.length < min || list.length > max) {
      throw exprError(
        16020,
        `Expression ${name} takes ${min === max ? `exactly ${min}` : `${min} to ${max}`} arguments. ${list.length} were passed in.`,
      );
    }
  }
  return list.map((a) => compileExpression(a, scope));
}

const isNullish = (v: unknown) => v === undefined || v === null;

function truthy(v: unknown): boolean {
  if (v === undefined || v === null || v === false) return false;
  if (isNumeric(v)) return toNumber(v) !== 0;
  return true;
}

function typeName(v: unknown): string {
  if (v === undefined) return 'missing';
  if (v === null) return 'null';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'bool';
  if (Array.isArray(v)) return 'array';
  if (v instanceof Date) return 'date';
  if (v instanceof RegExp) return 'regex';
  switch (numberKind(v)) {
    case 'int':
      return 'int';
    case 'long':
      return 'long';
    case 'double':
      return 'double';
    case 'decimal':
      return 'decimal';
    default:
      break;
  }
  switch (bsonTypeOf(v)) {
    case 'ObjectId':
      return 'objectId';
    case 'Binary':
      return 'binData';
    case 'Timestamp':
      return 'timestamp';
    case 'BSONRegExp':
      return 'regex';
    case 'MinKey':
      return 'minKey';
    case 'MaxKey':
      return 'maxKey';
    case 'Code':
      return 'javascript';
    case 'BSONSymbol':
      return 'symbol';
    default:
      return 'object';
  }
}

function requireNumber(name: string, v: unknown): void {
  if (!isNumeric(v)) throw exprError(16611, `${name} only supports numeric types, not ${typeName(v)}`);
}

function requireArray(name: string, v: unknown, code = 28651): unknown[] {
  if (!Array.isArray(v))
    throw exprError(code, `The argument to ${name} must be an array, but was of type: ${typeName(v)}`);
  return v;
}

function requireString(name: string, v: unknown): string {
  if (typeof v !== 'string') throw exprError(16609, `${name} requires a string argument, found: ${typeName(v)}`);
  return v;
}

function stringOf(v: unknown): string {
  if (isNullish(v)) return '';
  if (typeof v === 'string') return v;
  if (v instanceof Date) return v.toISOString();
  if (isNumeric(v)) return String(toNumber(v));
  if (bsonTypeOf(v) === 'ObjectId') return (v as ObjectId).toHexString();
  return String(v);
}

function namedArgs(name: string, arg: unknown, allowed: string[], required: string[]): Document {
  if (!isPlainObject(arg)) throw exprError(16612, `${name} expects an object of named arguments`);
  for (const key of Object.keys(arg)) {
    if (!allowed.includes(key)) throw exprError(16613, `${name} found an unknown argument: ${key}`);
  }
  for (const key of required) {
    if (!(key in arg)) throw exprError(16614, `Missing '${key}' parameter to ${name}`);
  }
  return arg;
}

function withVariable(vars: Variables, name: string, value: unknown): Variables {
  return { ...vars, [name]: value };
}

function variableName(name: string, value: unknown, fallback: string): string {
  const v = value === undefined ? fallback : value;
  if (typeof v !== 'string' || !/^[a-z_\p{L}][\w\p{L}]*$/u.test(v)) {
    throw exprError(
      16866,
      `${name}: variable names must begin with a lowercase letter or non-ascii character: ${String(v)}`,
    );
  }
  return v;
}

function extend(scope: Scope, ...names: string[]): Scope {
  return { names: new Set([...scope.names, ...names]) };
}

function dateOf(name: string, v: unknown): Date | undefined {
  if (isNullish(v)) return undefined;
  if (v instanceof Date) return v;
  if (bsonTypeOf(v) === 'Timestamp') return new Date((v as Timestamp).t * 1000);
  if (bsonTypeOf(v) === 'ObjectId') return (v as ObjectId).getTimestamp();
  throw exprError(16006, `can't convert from BSON type ${typeName(v)} to Date`);
}

type Builder = (name: string, arg: unknown, scope: Scope) => Compiled;

function unary(fn: (v: unknown, name: string) => unknown): Builder {
  return (name, arg, scope) => {
    const [a] = compileArgs(name, arg, scope, 1);
    return (vars) => fn(a!(vars), name);
  };
}

function mathUnary(fn: (n: number) => number, keepInt = false): Builder {
  return unary((v, name) => {
    if (isNullish(v)) return null;
    requireNumber(name, v);
    const result = fn(toNumber(v));
    const kind = numberKind(v)!;
    if (keepInt && (kind === 'int' || kind === 'long')) return makeNumber(result, kind);
    return makeNumber(result, kind === 'decimal' ? 'decimal' : 'double');
  });
}

function comparison(test: (c: number) => boolean): Builder {
  return (name, arg, scope) => {
    const [a, b] = compileArgs(name, arg, scope, 2);
    return (vars) => test(compareValues(a!(vars) ?? null, b!(vars) ?? null));
  };
}

function dateField(fn: (d: Date) => number): Builder {
  return (name, arg, scope) => {
    const expr = compileExpression(isPlainObject(arg) && 'date' in arg ? arg.date : argList(arg)[0], scope);
    return (vars) => {
      const d = dateOf(name, expr(vars));
      return d === undefined ? null : fn(d);
    };
  };
}

function setOf(name: string, v: unknown): unknown[] {
  const array = requireArray(name, v, 17044);
  const out: unknown[] = [];
  for (const item of array) if (!out.some((seen) => valuesEqual(seen, item))) out.push(item);
  return out;
}

function convert(value: unknown, to: string, name: string): unknown {
  if (isNullish(value)) return null;
  switch (to) {
    case 'string':
      if (typeof value === 'boolean') return String(value);
      return stringOf(value);
    case 'int':
    case 'long': {
      let n: number;
      if (typeof value === 'boolean') n = value ? 1 : 0;
      else if (typeof value === 'string') {
        if (!/^-?\d+$/.test(value.trim())) throw exprError(241, `Failed to parse number '${value}' in $convert`);
        n = Number(value);
      } else if (value instanceof Date) n = value.getTime();
      else {
        requireNumber(name, value);
        n = Math.trunc(toNumber(value));
      }
      return to === 'int' ? n : Long.fromNumber(n);
    }
    case 'double':
    case 'decimal': {
      let n: number;
      if (typeof value === 'boolean') n = value ? 1 : 0;
      else if (typeof value === 'string') {
        n = Number(value);
        if (value.trim() === '' || Number.isNaN(n))
          throw exprError(241, `Failed to parse number '${value}' in $convert`);
      } else if (value instanceof Date) n = value.getTime();
      else {
        requireNumber(name, value);
        n = toNumber(value);
      }
      return to === 'double' ? asDouble(n) : Decimal128.fromString(String(n));
    }
    case 'bool':
      return truthy(value) || typeof value === 'string';
    case 'date':
      if (value instanceof Date) return value;
      if (typeof value === 'string') {
        const d = new Date(value);
        if (Number.isNaN(d.getTime())) throw exprError(241, `Error parsing date string '${value}'`);
        return d;
      }
      if (isNumeric(value)) return new Date(toNumber(value));
      return dateOf(name, value) ?? null;
    case 'objectId':
      if (bsonTypeOf(value) === 'ObjectId') return value;
      if (typeof value === 'string' && /^[0-9a-fA-F]{24}$/.test(value)) return new ObjectId(value);
      throw exprError(241, `Failed to parse objectId '${String(value)}' in $convert`);
    default:
      throw exprError(ErrorCodes.BadValue, `Unknown type name: ${to}`);
  }
}

const TYPE_ALIASES: Record<string, string> = {
  1: 'double',
  2: 'string',
  7: 'objectId',
  8: 'bool',
  9: 'date',
  16: 'int',
  18: 'long',
  19: 'decimal',
};

function converter(to: string): Builder {
  return unary((v, name) => convert(v, to, name));
}

const operators: Record<string, Builder> = {
  $literal: (_name, arg) => {
    const value = cloneValue(arg);
    return () => value;
  },
  // Arithmetic
  $add: (name, arg, scope) => {
    const args = compileArgs(name, arg, scope);
    return (vars) => {
      let sum: unknown = 0;
      let date: Date | undefined;
      for (const a of args) {
        const v = a(vars);
        if (isNullish(v)) return null;
        if (v instanceof Date) {
          if (date) throw exprError(16612, 'only one date allowed in an $add expression');
          date = v;
          continue;
        }
        requireNumber(name, v);
        sum = arithmetic(sum, v, 'add');
      }
      return date ? new Date(date.getTime() + toNumber(sum)) : sum;
    };
  },
  $subtract: (name, arg, scope) => {
    const [a, b] = compileArgs(name, arg, scope, 2);
    return (vars) => {
      const x = a!(vars);
      const y = b!(vars);
      if (isNullish(x) || isNullish(y)) return null;
      if (x instanceof Date && y instanceof Date) return Long.fromNumber(x.getTime() - y.getTime());
      if (x instanceof Date) {
        requireNumber(name, y);
        return new Date(x.getTime() - toNumber(y));
      }
      requireNumber(name, x);
      requireNumber(name, y);
      return arithmetic(x, y, 'subtract');
    };
  },
  $multiply: (name, arg, scope) => {
    const args = compileArgs(name, arg, scope);
    return (vars) => {
      let product: unknown = 1;
      for (const a of args) {
        const v = a(vars);
        if (isNullish(v)) return null;
        requireNumber(name, v);
        product = arithmetic(product, v, 'multiply');
      }
      return product;
    };
  },
  $divide: (name, arg, scope) => {
    const [a, b] = compileArgs(name, arg, scope, 2);
    return (vars) => {
      const x = a!(vars);
      const y = b!(vars);
      if (isNullish(x) || isNullish(y)) return null;
      requireNumber(name, x);
      requireNumber(name, y);
      if (toNumber(y) === 0) throw exprError(2, "can't $divide by zero");
      const kind = widerKind(numberKind(x)!, numberKind(y)!);
      return makeNumber(toNumber(x) / toNumber(y), kind === 'decimal' ? 'decimal' : 'double');
    };
  },
  $mod: (name, arg, scope) => {
    const [a, b] = compileArgs(name, arg, scope, 2);
    return (vars) => {
      const x = a!(vars);
      const y = b!(vars);
      if (isNullish(x) || isNullish(y)) return null;
      requireNumber(name, x);
      requireNumber(name, y);
      if (toNumber(y) === 0) throw exprError(16610, "can't $mod by zero");
      return makeNumber(toNumber(x) % toNumber(y), widerKind(numberKind(x)!, numberKind(y)!));
    };
  },
  $abs: mathUnary(Math.abs, true),
  $ceil: mathUnary(Math.ceil, true),
  $floor: mathUnary(Math.floor, true),
  $trunc: mathUnary(Math.trunc, true),
  $round: mathUnary(Math.round, true),
  $sqrt: mathUnary(Math.sqrt),
  $exp: mathUnary(Math.exp),
  $ln: mathUnary(Math.log),
  $log10: mathUnary(Math.log10),
  $pow: (name, arg, scope) => {
    const [a, b] = compileArgs(name, arg, scope, 2);
    return (vars) => {
      const x = a!(vars);
      const y = b!(vars);
      if (isNullish(x) || isNullish(y)) return null;
      requireNumber(name, x);
      requireNumber(name, y);
      const kind = widerKind(numberKind(x)!, numberKind(y)!);
      const result = toNumber(x) ** toNumber(y);
      return makeNumber(result, (kind === 'int' || kind === 'long') && toNumber(y) < 0 ? 'double' : kind);
    };
  },
  $log: (name, arg, scope) => {
    const [a, b] = compileArgs(name, arg, scope, 2);
    return (vars) => {
      const x = a!(vars);
      const y = b!(vars);
      if (isNullish(x) || isNullish(y)) return null;
      return asDouble(Math.log(toNumber(x)) / Math.log(toNumber(y)));
    };
  },
  $rand: () => () => Math.random(),
  // Comparison
  $eq: comparison((c) => c === 0),
  $ne: comparison((c) => c !== 0),
  $gt: comparison((c) => c > 0),
  $gte: comparison((c) => c >= 0),
  $lt: comparison((c) => c < 0),
  $lte: comparison((c) => c <= 0),
  $cmp: (name, arg, scope) => {
    const [a, b] = compileArgs(name, arg, scope, 2);
    return (vars) => Math.sign(compareValues(a!(vars) ?? null, b!(vars) ?? null));
  },
  // Boolean
  $and: (name, arg, scope) => {
    const args = compileArgs(name, arg, scope);
    return (vars) => args.every((a) => truthy(a(vars)));
  },
  $or: (name, arg, scope) => {
    const args = compileArgs(name, arg, scope);
    return (vars) => args.some((a) => truthy(a(vars)));
  },
  $not: unary((v) => !truthy(v)),
  // Conditional
  $cond: (name, arg, scope) => {
    const spec = Array.isArray(arg)
      ? { if: arg[0], then: arg[1], else: arg[2] }
      : namedArgs(name, arg, ['if', 'then', 'else'], ['if', 'then', 'else']);
    if (Array.isArray(arg) && arg.length !== 3) throw exprError(16020, 'Expression $cond takes exactly 3 arguments.');
    const test = compileExpression(spec.if, scope);
    const then = compileExpression(spec.then, scope);
    const otherwise = compileExpression(spec.else, scope);
    return (vars) => (truthy(test(vars)) ? then(vars) : otherwise(vars));
  },
  $ifNull: (name, arg, scope) => {
    const args = compileArgs(name, arg, scope);
    if (args.length < 2) throw exprError(1257300, '$ifNull needs at least two arguments');
    return (vars) => {
      for (let i = 0; i < args.length - 1; i++) {
        const v = args[i]!(vars);
        if (!isNullish(v)) return v;
      }
      return args[args.length - 1]!(vars);
    };
  },
  $switch: (name, arg, scope) => {
    const spec = namedArgs(name, arg, ['branches', 'default'], ['branches']);
    const branches = requireArray(name, spec.branches, 40061).map((b) => {
      const branch = namedArgs(name, b, ['case', 'then'], ['case', 'then']);
      return [compileExpression(branch.case, scope), compileExpression(branch.then, scope)] as const;
    });
    const fallback = spec.default === undefined ? undefined : compileExpression(spec.default, scope);
    return (vars) => {
      for (const [test, then] of branches) if (truthy(test(vars))) return then(vars);
      if (!fallback)
        throw exprError(40066, '$switch could not find a matching branch for an input, and no default was specified.');
      return fallback(vars);
    };
  },
  // Strings
  $concat: (name, arg, scope) => {
    const args = compileArgs(name, arg, scope);
    return (vars) => {
      let out = '';
      for (const a of args) {
        const v = a(vars);
        if (isNullish(v)) return null;
        if (typeof v !== 'string') throw exprError(16702, `$concat only supports strings, not ${typeName(v)}`);
        out += v;
      }
      return out;
    };
  },
  $toLower: unary((v) => stringOf(v).toLowerCase()),
  $toUpper: unary((v) => stringOf(v).toUpperCase()),
  $strLenCP: unary((v, name) => [...requireString(name, v)].length),
  $strLenBytes: unary((v, name) => Buffer.byteLength(requireString(name, v))),
  $substrCP: (name, arg, scope) => {
    const [s, start, length] = compileArgs(name, arg, scope, 3);
    return (vars) => {
      const chars = [...stringOf(s!(vars))];
      const from = toNumber(start!(vars));
      return chars.slice(from, from + toNumber(length!(vars))).join('');
    };
  },
  $substr: (name, arg, scope) => operators.$substrBytes!(name, arg, scope),
  $substrBytes: (name, arg, scope) => {
    const [s, start, length] = compileArgs(name, arg, scope, 3);
    return (vars) => {
      const bytes = Buffer.from(stringOf(s!(vars)));
      const from = toNumber(start!(vars));
      const n = toNumber(length!(vars));
      return bytes.subarray(from, n < 0 ? undefined : from + n).toString();
    };
  },
  $split: (name, arg, scope) => {
    const [s, sep] = compileArgs(name, arg, scope, 2);
    return (vars) => {
      const v = s!(vars);
      if (isNullish(v)) return null;
      return requireString(name, v).split(requireString(name, sep!(vars)));
    };
  },
  $trim: trimmer('both'),
  $ltrim: trimmer('start'),
  $rtrim: trimmer('end'),
  $indexOfCP: (name, arg, scope) => {
    const [s, sub, start, end] = compileArgs(name, arg, scope, [2, 4]);
    return (vars) => {
      const v = s!(vars);
      if (isNullish(v)) return null;
      const chars = [...requireString(name, v)];
      const needle = [...requireString(name, sub!(vars))].join('');
      const from = start ? toNumber(start(vars)) : 0;
      const to = end ? toNumber(end(vars)) : chars.length;
      const index = chars.slice(0, to).join('').indexOf(needle, chars.slice(0, from).join('').length);
      return index < 0 ? -1 : [...chars.join('').slice(0, index)].length;
    };
  },
  $strcasecmp: (name, arg, scope) => {
    const [a, b] = compileArgs(name, arg, scope, 2);
    return (vars) => {
      const x = stringOf(a!(vars)).toUpperCase();
      const y = stringOf(b!(vars)).toUpperCase();
      return x < y ? -1 : x > y ? 1 : 0;
    };
  },
  $regexMatch: (name, arg, scope) => {
    const spec = namedArgs(name, arg, ['input', 'regex', 'options'], ['input', 'regex']);
    const input = compileExpression(spec.input, scope);
    const regex = compileExpression(spec.regex, scope);
    const options = spec.options === undefined ? undefined : compileExpression(spec.options, scope);
    return (vars) => {
      const v = input(vars);
      if (isNullish(v)) return false;
      const r = regex(vars) as unknown;
      const pattern = r instanceof RegExp ? r.source : stringOf((r as { pattern?: string }).pattern ?? r);
      const flags = `${r instanceof RegExp ? r.flags : ''}${options ? stringOf(options(vars)) : ''}`.replace(
        /[^imsu]/g,
        '',
      );
      return new RegExp(pattern, flags).test(requireString(name, v));
    };
  },
  $replaceOne: replacer(false),
  $replaceAll: replacer(true),
  // Arrays
  $size: unary((v, name) => {
    if (!Array.isArray(v))
      throw exprError(17124, `The argument to $size must be an array. Type of argument: ${typeName(v)}`);
    return v.length;
  }),
  $isArray: unary((v) => Array.isArray(v)),
  $arrayElemAt: (name, arg, scope) => {
    const [a, i] = compileArgs(name, arg, scope, 2);
    return (vars) => {
      const array = a!(vars);
      const index = i!(vars);
      if (isNullish(array) || isNullish(index)) return null;
      const list = requireArray(name, array, 28689);
      const n = toNumber(index);
      return n < 0 ? list[list.length + n] : list[n];
    };
  },
  $first: unary((v, name) => (isNullish(v) ? null : requireArray(name, v, 28689)[0])),
  $last: unary((v, name) => {
    if (isNullish(v)) return null;
    const list = requireArray(name, v, 28689);
    return list[list.length - 1];
  }),
  $concatArrays: (name, arg, scope) => {
    const args = compileArgs(name, arg, scope);
    return (vars) => {
      const out: unknown[] = [];
      for (const a of args) {
        const v = a(vars);
        if (isNullish(v)) return null;
        out.push(...requireArray(name, v, 28664));
      }
      return out;
    };
  },
  $reverseArray: unary((v, name) => (isNullish(v) ? null : [...requireArray(name, v, 34435)].reverse())),
  $in: (name, arg, scope) => {
    const [item, array] = compileArgs(name, arg, scope, 2);
    return (vars) => {
      const value = item!(vars) ?? null;
      const list = array!(vars);
      if (!Array.isArray(list))
        throw exprError(40081, `$in requires an array as a second argument, found: ${typeName(list)}`);
      return list.some((v) => valuesEqual(v, value));
    };
  },
  $indexOfArray: (name, arg, scope) => {
    const [array, item, start, end] = compileArgs(name, arg, scope, [2, 4]);
    return (vars) => {
      const list = array!(vars);
      if (isNullish(list)) return null;
      const target = item!(vars) ?? null;
      const from = start ? toNumber(start(vars)) : 0;
      const to = end ? toNumber(end(vars)) : (list as unknown[]).length;
      for (let i = from; i < Math.min(to, (list as unknown[]).length); i++) {
        if (valuesEqual((list as unknown[])[i], target)) return i;
      }
      return -1;
    };
  },
  $slice: (name, arg, scope) => {
    const [array, first, second] = compileArgs(name, arg, scope, [2, 3]);
    return (vars) => {
      const list = array!(vars);
      if (isNullish(list)) return null;
      const items = requireArray(name, list, 28724);
      const a = toNumber(first!(vars));
      if (!second) return a >= 0 ? items.slice(0, a) : items.slice(a);
      const start = a < 0 ? Math.max(0, items.length + a) : a;
      return items.slice(start, start + toNumber(second(vars)));
    };
  },
  $range: (name, arg, scope) => {
    const [start, end, step] = compileArgs(name, arg, scope, [2, 3]);
    return (vars) => {
      const out: number[] = [];
      const by = step ? toNumber(step(vars)) : 1;
      if (by === 0) throw exprError(34449, '$range requires a non-zero step value');
      const to = toNumber(end!(vars));
      for (let i = toNumber(start!(vars)); by > 0 ? i < to : i > to; i += by) out.push(i);
      return out;
    };
  },
  $filter: (name, arg, scope) => {
    const spec = namedArgs(name, arg, ['input', 'as', 'cond', 'limit'], ['input', 'cond']);
    const as = variableName(name, spec.as, 'this');
    const input = compileExpression(spec.input, scope);
    const cond = compileExpression(spec.cond, extend(scope, as));
    const limit = spec.limit === undefined ? undefined : compileExpression(spec.limit, scope);
    return (vars) => {
      const list = input(vars);
      if (isNullish(list)) return null;
      const max = limit ? toNumber(limit(vars)) : Number.POSITIVE_INFINITY;
      const out: unknown[] = [];
      for (const item of requireArray(name, list, 28651)) {
        if (out.length >= max) break;
        if (truthy(cond(withVariable(vars, as, item)))) out.push(item);
      }
      return out;
    };
  },
  $map: (name, arg, scope) => {
    const spec = namedArgs(name, arg, ['input', 'as', 'in'], ['input', 'in']);
    const as = variableName(name, spec.as, 'this');
    const input = compileExpression(spec.input, scope);
    const body = compileExpression(spec.in, extend(scope, as));
    return (vars) => {
      const list = input(vars);
      if (isNullish(list)) return null;
      return requireArray(name, list, 16883).map((item) => body(withVariable(vars, as, item)) ?? null);
    };
  },
  $reduce: (name, arg, scope) => {
    const spec = namedArgs(name, arg, ['input', 'initialValue', 'in'], ['input', 'initialValue', 'in']);
    const input = compileExpression(spec.input, scope);
    const initial = compileExpression(spec.initialValue, scope);
    const body = compileExpression(spec.in, extend(scope, 'this', 'value'));
    return (vars) => {
      const list = input(vars);
      if (isNullish(list)) return null;
      let value = initial(vars);
      for (const item of requireArray(name, list, 40080)) value = body({ ...vars, this: item, value });
      return value;
    };
  },
  $arrayToObject: unary((v, name) => {
    if (isNullish(v)) return null;
    const out: Document = {};
    for (const item of requireArray(name, v, 40386)) {
      if (Array.isArray(item)) out[String(item[0])] = item[1];
      else if (isPlainObject(item)) out[String(item.k)] = item.v;
      else throw exprError(40398, `Unrecognised input type format for $arrayToObject: ${typeName(item)}`);
    }
    return out;
  }),
  $objectToArray: unary((v) => {
    if (isNullish(v)) return null;
    if (!isPlainObject(v)) throw exprError(40390, `$objectToArray requires a document input, found: ${typeName(v)}`);
    return Object.entries(v).map(([k, value]) => ({ k, v: value }));
  }),
  // Sets
  $setUnion: (name, arg, scope) => {
    const args = compileArgs(name, arg, scope);
    return (vars) => {
      const all: unknown[] = [];
      for (const a of args) {
        const v = a(vars);
        if (isNullish(v)) return null;
        all.push(...requireArray(name, v, 17043));
      }
      return setOf(name, all);
    };
  },
  $setIntersection: (name, arg, scope) => {
    const args = compileArgs(name, arg, scope);
    return (vars) => {
      const sets = args.map((a) => a(vars));
      if (sets.some(isNullish)) return null;
      const [first = [], ...others] = sets.map((s) => setOf(name, s));
      return first.filter((v) => others.every((o) => o.some((x) => valuesEqual(x, v))));
    };
  },
  $setDifference: (name, arg, scope) => {
    const [a, b] = compileArgs(name, arg, scope, 2);
    return (vars) => {
      const x = a!(vars);
      const y = b!(vars);
      if (isNullish(x) || isNullish(y)) return null;
      const other = setOf(name, y);
      return setOf(name, x).filter((v) => !other.some((o) => valuesEqual(o, v)));
    };
  },
  $setEquals: (name, arg, scope) => {
    const args = compileArgs(name, arg, scope);
    return (vars) => {
      const sets = args.map((a) => setOf(name, a(vars)));
      return sets.every((s) => s.length === sets[0]!.length && s.every((v) => sets[0]!.some((x) => valuesEqual(x, v))));
    };
  },
  $setIsSubset: (name, arg, scope) => {
    const [a, b] = compileArgs(name, arg, scope, 2);
    return (vars) => {
      const other = setOf(name, b!(vars));
      return setOf(name, a!(vars)).every((v) => other.some((o) => valuesEqual(o, v)));
    };
  },
  $anyElementTrue: unary((v, name) => requireArray(name, argList(v)[0], 17041).some(truthy)),
  $allElementsTrue: unary((v, name) => requireArray(name, argList(v)[0], 17040).every(truthy)),
  // Types
  $type: unary((v) => typeName(v)),
  $isNumber: unary((v) => isNumeric(v)),
  $toString: converter('string'),
  $toInt: converter('int'),
  $toLong: converter('long'),
  $toDouble: converter('double'),
  $toDecimal: converter('decimal'),
  $toBool: converter('bool'),
  $toDate: converter('date'),
  $toObjectId: converter('objectId'),
  $convert: (name, arg, scope) => {
    const spec = namedArgs(name, arg, ['input', 'to', 'onError', 'onNull'], ['input', 'to']);
    const input = compileExpression(spec.input, scope);
    const to = compileExpression(spec.to, scope);
    const onError = spec.onError === undefined ? undefined : compileExpression(spec.onError, scope);
    const onNull = spec.onNull === undefined ? undefined : compileExpression(spec.onNull, scope);
    return (vars) => {
      const v = input(vars);
      if (isNullish(v)) return onNull ? onNull(vars) : null;
      const target = to(vars);
      const typeNameWanted = typeof target === 'string' ? target : TYPE_ALIASES[String(toNumber(target))];
      try {
        return convert(v, typeNameWanted ?? String(target), name);
      } catch (err) {
        if (onError && err instanceof CommandError) return onError(vars);
        throw err;
      }
    };
  },
  // Objects
  $mergeObjects: (name, arg, scope) => {
    const args = compileArgs(name, arg, scope);
    return (vars) => {
      const out: Document = {};
      for (const a of args) {
        const v = a(vars);
        if (isNullish(v)) continue;
        if (!isPlainObject(v))
          throw exprError(
            40400,
            `$mergeObjects requires object inputs, but input ${JSON.stringify(v)} is of type ${typeName(v)}`,
          );
        for (const [key, value] of Object.entries(v)) if (value !== undefined) out[key] = value;
      }
      return out;
    };
  },
  $getField: (name, arg, scope) => {
    const spec = isPlainObject(arg) && 'field' in arg ? arg : { field: arg, input: '$$CURRENT' };
    const field = compileExpression(spec.field, scope);
    const input = compileExpression(spec.input ?? '$$CURRENT', scope);
    return (vars) => {
      const from = input(vars);
      if (isNullish(from)) return null;
      if (!isPlainObject(from)) return undefined;
      const key = String(field(vars));
      return Object.prototype.hasOwnProperty.call(from, key) ? from[key] : undefined;
    };
  },
  $setField: (name, arg, scope) => {
    const spec = namedArgs(name, arg, ['field', 'input', 'value'], ['field', 'input', 'value']);
    const field = compileExpression(spec.field, scope);
    const input = compileExpression(spec.input, scope);
    const value = compileExpression(spec.value, scope);
    return (vars) => {
      const from = input(vars);
      if (isNullish(from)) return null;
      const out: Document = { ...(from as Document) };
      const v = value(vars);
      const key = String(field(vars));
      if (v === undefined) delete out[key];
      else out[key] = v;
      return out;
    };
  },
  $unsetField: (name, arg, scope) => {
    const spec = namedArgs(name, arg, ['field', 'input'], ['field', 'input']);
    return operators.$setField!(name, { ...spec, value: '$$REMOVE' }, scope);
  },
  // Variables
  $let: (name, arg, scope) => {
    const spec = namedArgs(name, arg, ['vars', 'in'], ['vars', 'in']);
    if (!isPlainObject(spec.vars)) throw exprError(16875, 'invalid parameter: expected an object (vars)');
    const bindings = Object.entries(spec.vars).map(
      ([key, value]) => [variableName(name, key, key), compileExpression(value, scope)] as const,
    );
    const body = compileExpression(spec.in, extend(scope, ...bindings.map(([key]) => key)));
    return (vars) => {
      const inner = { ...vars };
      for (const [key, value] of bindings) inner[key] = value(vars);
      return body(inner);
    };
  },
  // Dates
  $year: dateField((d) => d.getUTCFullYear()),
  $month: dateField((d) => d.getUTCMonth() + 1),
  $dayOfMonth: dateField((d) => d.getUTCDate()),
  $hour: dateField((d) => d.getUTCHours()),
  $minute: dateField((d) => d.getUTCMinutes()),
  $second: dateField((d) => d.getUTCSeconds()),
  $millisecond: dateField((d) => d.getUTCMilliseconds()),
  $dayOfWeek: dateField((d) => d.getUTCDay() + 1),
  $dayOfYear: dateField((d) => Math.floor((d.getTime() - Date.UTC(d.getUTCFullYear(), 0, 1)) / 86_400_000) + 1),
  $dateToString: (name, arg, scope) => {
    const spec = namedArgs(name, arg, ['date', 'format', 'timezone', 'onNull'], ['date']);
    const date = compileExpression(spec.date, scope);
    const format = spec.format === undefined ? undefined : compileExpression(spec.format, scope);
    return (vars) => {
      const d = dateOf(name, date(vars));
      if (!d) return null;
      if (!format) return d.toISOString();
      const pad = (n: number, w = 2) => String(n).padStart(w, '0');
      return String(format(vars)).replace(/%([YmdHMSLjwUu%])/g, (_m, f: string) => {
        switch (f) {
          case 'Y':
            return String(d.getUTCFullYear());
          case 'm':
            return pad(d.getUTCMonth() + 1);
          case 'd':
            return pad(d.getUTCDate());
          case 'H':
            return pad(d.getUTCHours());
          case 'M':
            return pad(d.getUTCMinutes());
          case 'S':
            return pad(d.getUTCSeconds());
          case 'L':
            return pad(d.getUTCMilliseconds(), 3);
          case '%':
            return '%';
          default:
            return `%${f}`;
        }
      });
    };
  },
  $tsSecond: unary((v) => (bsonTypeOf(v) === 'Timestamp' ? Long.fromNumber((v as Timestamp).t) : null)),
  $tsIncrement: unary((v) => (bsonTypeOf(v) === 'Timestamp' ? Long.fromNumber((v as Timestamp).i) : null)),
};

function trimmer(side: 'both' | 'start' | 'end'): Builder {
  return (name, arg, scope) => {
    const spec = namedArgs(name, arg, ['input', 'chars'], ['input']);
    const input = compileExpression(spec.input, scope);
    const chars = spec.chars === undefined ? undefined : compileExpression(spec.chars, scope);
    return (vars) => {
      const v = input(vars);
      if (isNullish(v)) return null;
      const s = requireString(name, v);
      const set = chars ? [...requireString(name, chars(vars))] : [' ', '\t', '\n', '\r', '\f', '\v', '\0', '\u00a0'];
      let start = 0;
      let end = s.length;
      if (side !== 'end') while (start < end && set.includes(s[start]!)) start += 1;
      if (side !== 'start') while (end > start && set.includes(s[end - 1]!)) end -= 1;
      return s.slice(start, end);
    };
  };
}

function replacer(all: boolean): Builder {
  return (name, arg, scope) => {
    const spec = namedArgs(name, arg, ['input', 'find', 'replacement'], ['input', 'find', 'replacement']);
    const input = compileExpression(spec.input, scope);
    const find = compileExpression(spec.find, scope);
    const replacement = compileExpression(spec.replacement, scope);
    return (vars) => {
      const [s, f, r] = [input(vars), find(vars), replacement(vars)];
      if (isNullish(s) || isNullish(f) || isNullish(r)) return null;
      const text = requireString(name, s);
      return all
        ? text.split(requireString(name, f)).join(requireString(name, r))
        : text.replace(requireString(name, f), requireString(name, r));
    };
  };
}

function compileOperator(name: string, arg: unknown, scope: Scope): Compiled {
  const builder = Object.prototype.hasOwnProperty.call(operators, name) ? operators[name] : undefined;
  if (!builder) throw invalidOperator(name);
  return builder(name, arg, scope);
}

/** Whether `value` is an expression object (`{ $op: ... }`) rather than a literal document. */
export function isExpressionObject(value: unknown): value is Document {
  return isPlainObject(value) && Object.keys(value).length > 0 && Object.keys(value)[0]!.startsWith('$');
}

export { truthy as isTruthy, typeName as bsonTypeName };
