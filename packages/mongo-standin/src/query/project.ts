import type { Document } from 'bson';
import { badValue, CommandError } from '../errors.js';
import {
  compileExpression,
  documentVariables,
  isExpressionObject,
  rootScope,
  type Compiled,
  type Scope,
  type Variables,
} from './expressions.js';
import { compileFilter, type Matcher } from './match.js';
import { cloneValue, isNumeric, isPlainObject, toNumber } from './values.js';

export type Projector = (doc: Document, vars?: Variables) => Document;

/**
 * Projections (https://www.mongodb.com/docs/manual/reference/operator/aggregation/project/ and
 * https://www.mongodb.com/docs/manual/tutorial/project-fields-from-query-results/): inclusion (`{ a: 1 }`, with
 * computed fields `{ x: '$a' }`), or exclusion (`{ a: 0 }`), on dotted or nested paths, through arrays; `_id`
 * kept unless excluded. `find` projections also take `$slice` and `$elemMatch`; the positional `$` is refused.
 */
type Node =
  | { kind: 'include' }
  | { kind: 'exclude' }
  | { kind: 'computed'; expr: Compiled }
  | { kind: 'nested'; children: Map<string, Node> }
  | { kind: 'slice'; skip: number | undefined; limit: number }
  | { kind: 'elemMatch'; matcher: Matcher };

const projectionError = (code: number, message: string) =>
  new CommandError(code, message, { codeName: `Location${code}` });

interface ProjectionOptions {
  /** find's projection language ($slice, $elemMatch) rather than $project's. */
  find?: boolean;
  scope?: Scope;
}

/** Compiles a projection; undefined or `{}` keeps documents as they are. */
export function compileProjection(spec: unknown, options: ProjectionOptions = {}): Projector {
  if (spec === undefined || spec === null) return (doc) => doc;
  if (!isPlainObject(spec)) throw badValue('projection must be an object');
  if (Object.keys(spec).length === 0) {
    if (options.find) return (doc) => doc;
    throw projectionError(
      51272,
      'Invalid $project :: caused by :: projection specification must have at least one field',
    );
  }
  const root: Map<string, Node> = new Map();
  let inclusion: boolean | undefined;
  let idExcluded = false;
  const scope = options.scope ?? rootScope();
  const setMode = (path: string, include: boolean) => {
    if (inclusion === undefined) inclusion = include;
    else if (inclusion !== include) {
      throw include
        ? projectionError(31253, `Cannot do inclusion on field ${path} in exclusion projection`)
        : projectionError(31254, `Cannot do exclusion on field ${path} in inclusion projection`);
    }
  };
  const add = (path: string, value: unknown, into: Map<string, Node>, prefix: string) => {
    const full = prefix ? `${prefix}.${path}` : path;
    const parts = path.split('.');
    let map = into;
    for (const part of parts.slice(0, -1)) {
      let child = map.get(part);
      if (child === undefined) {
        child = { kind: 'nested', children: new Map() };
        map.set(part, child);
      } else if (child.kind !== 'nested') throw projectionError(31250, `Path collision at ${full}`);
      map = child.children;
    }
    const leaf = parts[parts.length - 1]!;
    if (map.has(leaf) && map.get(leaf)!.kind !== 'nested') throw projectionError(31250, `Path collision at ${full}`);
    const node = toNode(full, value);
    if (node.kind === 'nested') {
      const existing = map.get(leaf);
      const children = existing?.kind === 'nested' ? existing.children : new Map<string, Node>();
      map.set(leaf, { kind: 'nested', children });
      for (const [key, sub] of Object.entries(value as Document)) add(key, sub, children, full);
      return;
    }
    if (map.has(leaf)) throw projectionError(31250, `Path collision at ${full}`);
    map.set(leaf, node);
  };
  const toNode = (path: string, value: unknown): Node => {
    const isId = path === '_id';
    if (typeof value === 'boolean' || isNumeric(value)) {
      const include = typeof value === 'boolean' ? value : toNumber(value) !== 0;
      if (isId) {
        idExcluded = !include;
        return { kind: include ? 'include' : 'exclude' };
      }
      setMode(path, include);
      return { kind: include ? 'include' : 'exclude' };
    }
    if (options.find && isPlainObject(value) && '$slice' in value && Object.keys(value).length === 1) {
      const arg = value.$slice;
      if (Array.isArray(arg)) return { kind: 'slice', skip: toNumber(arg[0]), limit: toNumber(arg[1]) };
      if (!isNumeric(arg)) throw badValue('$slice only supports numbers and [skip, limit] arrays');
      return { kind: 'slice', skip: undefined, limit: toNumber(arg) };
    }
    if (options.find && isPlainObject(value) && '$elemMatch' in value && Object.keys(value).length === 1) {
      if (path.includes('.')) throw badValue('Cannot use $elemMatch projection on a nested field.');
      setMode(path, true);
      return { kind: 'elemMatch', matcher: compileFilter(value.$elemMatch) };
    }
    if (path.endsWith('.$') || path === '$') {
      throw badValue(`positional projection ('${path}') is not supported by the stand-in`);
    }
    if (isPlainObject(value) && !isExpressionObject(value)) {
      if (Object.keys(value).length === 0) {
        throw projectionError(
          51270,
          `An empty sub-projection is not a valid value. Found empty object at path ${path}`,
        );
      }
      return { kind: 'nested', children: new Map() };
    }
    if (!isId) setMode(path, true);
    return { kind: 'computed', expr: compileExpression(value, scope) };
  };
  for (const [path, value] of Object.entries(spec)) {
    if (path.startsWith('$')) throw projectionError(16410, `FieldPath field names may not start with '$'.`);
    add(path, value, root, '');
  }
  const include = inclusion ?? !idExcluded;
  if (!include && hasComputed(root)) {
    throw projectionError(31252, 'Cannot use expression other than $meta in exclusion projection');
  }
  if (include && !root.has('_id')) root.set('_id', { kind: 'include' });
  if (!include && !idExcluded && root.size === 0) return (doc) => doc;
  const idFirst = root.get('_id');
  return (doc, vars) => {
    const variables = vars ? { ...vars, ROOT: doc, CURRENT: doc } : documentVariables(doc);
    if (!include) return excludeFrom(doc, root);
    const out: Document = {};
    if (idFirst && idFirst.kind !== 'exclude' && idFirst.kind !== 'computed' && doc._id !== undefined) {
      out._id = idFirst.kind === 'include' ? cloneValue(doc._id) : includeInto(doc._id, idFirst, variables);
    }
    applyInclusion(doc, root, out, variables, true);
    return out;
  };
}

function hasComputed(map: Map<string, Node>): boolean {
  for (const [key, node] of map) {
    if (node.kind === 'computed' && key !== '_id') return true;
    if (node.kind === 'nested' && hasComputed(node.children)) return true;
  }
  return false;
}

/** Copies the included fields of `doc` in its own order, then the computed ones in the projection's order. */
function applyInclusion(doc: Document, nodes: Map<string, Node>, out: Document, vars: Variables, top: boolean): void {
  for (const [key, value] of Object.entries(doc)) {
    if (top && key === '_id') continue;
    const node = nodes.get(key);
    if (!node || node.kind === 'computed' || node.kind === 'exclude') continue;
    const projected = includeInto(value, node, vars);
    if (projected !== undefined) out[key] = projected;
  }
  for (const [key, node] of nodes) {
    if (node.kind === 'computed') {
      const value = node.expr(vars);
      if (value !== undefined) out[key] = value;
    } else if (node.kind === 'nested' && !(key in doc) && hasComputed(node.children)) {
      const sub: Document = {};
      applyInclusion({}, node.children, sub, vars, false);
      out[key] = sub;
    }
  }
}

function includeInto(value: unknown, node: Node, vars: Variables): unknown {
  switch (node.kind) {
    case 'include':
      return cloneValue(value);
    case 'slice': {
      if (!Array.isArray(value)) return cloneValue(value);
      if (node.skip === undefined) {
        return cloneValue(node.limit >= 0 ? value.slice(0, node.limit) : value.slice(node.limit));
      }
      const start = node.skip < 0 ? Math.max(0, value.length + node.skip) : node.skip;
      return cloneValue(value.slice(start, start + node.limit));
    }
    case 'elemMatch': {
      if (!Array.isArray(value)) return undefined;
      const found = value.find((el) => isPlainObject(el) && node.matcher(el));
      return found === undefined ? undefined : [cloneValue(found)];
    }
    case 'nested': {
      if (Array.isArray(value)) {
        return value.filter((el) => isPlainObject(el) || Array.isArray(el)).map((el) => includeInto(el, node, vars));
      }
      if (!isPlainObject(value)) return hasComputed(node.children) ? nestedComputed(node, vars) : undefined;
      const out: Document = {};
      applyInclusion(value, node.children, out, vars, false);
      return out;
    }
    default:
      return undefined;
  }
}

function nestedComputed(node: Extract<Node, { kind: 'nested' }>, vars: Variables): Document {
  const out: Document = {};
  applyInclusion({}, node.children, out, vars, false);
  return out;
}

function excludeFrom(doc: Document, nodes: Map<string, Node>): Document {
  const out: Document = {};
  for (const [key, value] of Object.entries(doc)) {
    const node = nodes.get(key);
    if (!node) out[key] = cloneValue(value);
    else if (node.kind === 'nested') out[key] = excludeNested(value, node.children);
    else if (node.kind === 'slice') out[key] = includeInto(value, node, {});
    else if (node.kind === 'include') out[key] = cloneValue(value);
  }
  return out;
}

function excludeNested(value: unknown, nodes: Map<string, Node>): unknown {
  if (Array.isArray(value)) return value.map((el) => excludeNested(el, nodes));
  if (!isPlainObject(value)) return cloneValue(value);
  return excludeFrom(value, nodes);
}

/**
 * `$addFields` / `$set` (https://www.mongodb.com/docs/manual/reference/operator/aggregation/addFields/): each
 * field is an expression, set on a copy of the document; dotted paths and nested objects add to embedded
 * documents (to each element of an array), a value evaluating to `$$REMOVE` removes the field.
 */
export function compileAddFields(spec: unknown, scope: Scope = rootScope()): Projector {
  if (!isPlainObject(spec)) throw projectionError(40272, '$addFields specification stage must be an object');
  const fields = flattenFields(spec, scope, '');
  return (doc, vars) => {
    const variables = vars ? { ...vars, ROOT: doc, CURRENT: doc } : documentVariables(doc);
    const values = fields.map(([path, expr]) => [path, expr(variables)] as const);
    let out = cloneValue(doc);
    for (const [path, value] of values) out = setField(out, path.split('.'), value);
    return out;
  };
}

function flattenFields(spec: Document, scope: Scope, prefix: string): Array<[string, Compiled]> {
  const out: Array<[string, Compiled]> = [];
  for (const [key, value] of Object.entries(spec)) {
    if (key.startsWith('$')) throw projectionError(16410, `FieldPath field names may not start with '$'.`);
    const path = prefix ? `${prefix}.${key}` : key;
    if (isPlainObject(value) && !isExpressionObject(value) && Object.keys(value).length > 0) {
      out.push(...flattenFields(value, scope, path));
    } else {
      out.push([path, compileExpression(value, scope)]);
    }
  }
  return out;
}

function setField(target: Document, parts: string[], value: unknown): Document {
  const [head, ...rest] = parts;
  if (rest.length === 0) {
    if (value === undefined) delete target[head!];
    else target[head!] = value;
    return target;
  }
  const current = target[head!];
  if (Array.isArray(current)) {
    target[head!] = current.map((el) => (isPlainObject(el) ? setField(el, rest, value) : el));
  } else {
    target[head!] = setField(isPlainObject(current) ? current : {}, rest, value);
  }
  return target;
}

/** `$unset` (a list of paths to remove): an exclusion projection. */
export function compileUnset(arg: unknown): Projector {
  const fields = Array.isArray(arg) ? arg : [arg];
  if (fields.length === 0 || fields.some((f) => typeof f !== 'string' || f.length === 0)) {
    throw projectionError(31119, '$unset specification must be a string or an array containing only string values');
  }
  return compileProjection(Object.fromEntries(fields.map((f) => [String(f), 0])));
}

/** `$replaceRoot: { newRoot }` / `$replaceWith`: the expression must give a document (40228). */
export function compileReplaceRoot(expr: unknown, scope: Scope = rootScope()): Projector {
  const compiled = compileExpression(expr, scope);
  return (doc, vars) => {
    const value = compiled(vars ? { ...vars, ROOT: doc, CURRENT: doc } : documentVariables(doc));
    if (!isPlainObject(value)) {
      throw projectionError(
        40228,
        `'newRoot' expression must evaluate to an object, but resulting value was: ${value === undefined ? 'MISSING' : JSON.stringify(value)}. Type of resulting value: '${value === undefined ? 'missing' : typeof value}'.`,
      );
    }
    return value;
  };
}
