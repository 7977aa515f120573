import type { Document } from 'bson';
import { badValue, CommandError, ErrorCodes } from './errors.js';
import { arithmetic } from './query/numbers.js';
import {
  compileExpression,
  documentVariables,
  rootScope,
  traversePath,
  type Scope,
  type Variables,
} from './query/expressions.js';
import { compileFilter } from './query/match.js';
import { compileAddFields, compileProjection, compileReplaceRoot, compileUnset } from './query/project.js';
import { compileSort, sortDocuments } from './query/sort.js';
import {
  canonicalKey,
  cloneValue,
  compareValues,
  isNumeric,
  isPlainObject,
  toNumber,
  valuesEqual,
} from './query/values.js';

/**
 * The aggregation pipeline (https://www.mongodb.com/docs/manual/reference/operator/aggregation-pipeline/):
 * per-document stages ($match, $project, $addFields/$set, $unset, $replaceRoot/$replaceWith, $redact) shared
 * with change streams and pipeline-style updates, and whole-input stages ($sort, $skip, $limit, $count,
 * $group, $unwind, $sortByCount, $sample, $lookup, $facet). `$out` and `$merge` are the aggregate command's
 * (commands/aggregate.ts). Any other stage name fails with mongod's 40324.
 */

/** A stage applied to one document: the document it becomes, or undefined to drop it. */
export type DocumentStage = (doc: Document, vars: Variables) => Document | undefined;

const stageError = (code: number, message: string) => new CommandError(code, message, { codeName: `Location${code}` });

export const unrecognizedStage = (name: string) => stageError(40324, `Unrecognized pipeline stage name: '${name}'`);

/** The one field of a stage object, checked as mongod checks it (40323). */
export function stageParts(stage: unknown): [string, unknown] {
  if (!isPlainObject(stage) || Object.keys(stage).length !== 1) {
    throw stageError(40323, 'A pipeline stage specification object must contain exactly one field.');
  }
  return Object.entries(stage)[0]!;
}

/** Compiles a per-document stage, or returns undefined when `name` is not one. */
export function compileDocumentStage(name: string, arg: unknown, scope: Scope): DocumentStage | undefined {
  switch (name) {
    case '$match': {
      const matcher = compileFilter(arg, { scope });
      return (doc, vars) => (matcher(doc, vars) ? doc : undefined);
    }
    case '$project': {
      const project = compileProjection(arg, { scope });
      return (doc, vars) => project(doc, vars);
    }
    case '$addFields':
    case '$set': {
      const add = compileAddFields(arg, scope);
      return (doc, vars) => add(doc, vars);
    }
    case '$unset': {
      const unset = compileUnset(arg);
      return (doc) => unset(doc);
    }
    case '$replaceRoot': {
      if (!isPlainObject(arg) || !('newRoot' in arg))
        throw stageError(40231, 'no newRoot specified for the $replaceRoot stage');
      const replace = compileReplaceRoot(arg.newRoot, scope);
      return (doc, vars) => replace(doc, vars);
    }
    case '$replaceWith': {
      const replace = compileReplaceRoot(arg, scope);
      return (doc, vars) => replace(doc, vars);
    }
    case '$redact': {
      const expr = compileExpression(arg, scope);
      const redact = (doc: Document, vars: Variables): Document | undefined => {
        const decision = expr({ ...vars, CURRENT: doc });
        if (decision === 'prune') return undefined;
        if (decision === 'keep') return doc;
        if (decision !== 'descend') {
          throw stageError(
            17053,
            "$redact's expression should not return anything aside from the variables $$KEEP, $$DESCEND, and $$PRUNE",
          );
        }
        const out: Document = {};
        for (const [key, value] of Object.entries(doc)) {
          if (isPlainObject(value)) {
            const kept = redact(value, vars);
            if (kept !== undefined) out[key] = kept;
          } else if (Array.isArray(value)) {
            out[key] = value.flatMap((el) =>
              isPlainObject(el) ? [redact(el, vars)].filter((d) => d !== undefined) : [el],
            );
          } else out[key] = value;
        }
        return out;
      };
      return (doc, vars) => redact(doc, { ...vars, DESCEND: 'descend', PRUNE: 'prune', KEEP: 'keep' });
    }
    default:
      return undefined;
  }
}

export interface PipelineContext {
  /** `let` variables and system variables ($$NOW, $$CLUSTER_TIME). */
  variables: Variables;
  /** Documents of another collection of the same database ($lookup). */
  collection?: (name: string) => Document[];
}

/** Runs a pipeline (without $out/$merge) over `input`. */
export function runPipeline(input: Document[], pipeline: Document[], context: PipelineContext): Document[] {
  const scope = rootScope(Object.keys(context.variables));
  let docs = input;
  for (const stage of pipeline) {
    const [name, arg] = stageParts(stage);
    docs = runStage(docs, name, arg, scope, context);
  }
  return docs;
}

function runStage(docs: Document[], name: string, arg: unknown, scope: Scope, context: PipelineContext): Document[] {
  const perDocument = compileDocumentStage(name, arg, scope);
  if (perDocument) {
    const out: Document[] = [];
    for (const doc of docs) {
      const result = perDocument(doc, documentVariables(doc, context.variables));
      if (result !== undefined) out.push(result);
    }
    return out;
  }
  switch (name) {
    case '$sort':
      if (!isPlainObject(arg) || Object.keys(arg).length === 0)
        throw stageError(15976, '$sort stage must have at least one sort key');
      compileSort(arg);
      return sortDocuments(docs, arg);
    case '$skip':
      return docs.slice(nonNegative(name, arg));
    case '$limit': {
      const n = nonNegative(name, arg);
      if (n === 0) throw stageError(15958, 'the limit must be positive');
      return docs.slice(0, n);
    }
    case '$count': {
      if (typeof arg !== 'string' || arg.length === 0 || arg.startsWith('$') || arg.includes('.')) {
        throw stageError(40156, 'the count field must be a non-empty string that does not start with $ or contain .');
      }
      return docs.length === 0 ? [] : [{ [arg]: docs.length }];
    }
    case '$group':
      return group(docs, arg, scope, context.variables);
    case '$sortByCount': {
      const grouped = group(docs, { _id: arg, count: { $sum: 1 } }, scope, context.variables);
      return sortDocuments(grouped, { count: -1 });
    }
    case '$unwind':
      return unwind(docs, arg);
    case '$sample': {
      const size = isPlainObject(arg) ? toNumber(arg.size) : Number.NaN;
      if (!(size >= 0)) throw stageError(28747, 'size argument to $sample must be a non-negative number');
      return [...docs].sort(() => Math.random() - 0.5).slice(0, size);
    }
    case '$lookup':
      return lookup(docs, arg, context);
    case '$facet': {
      if (!isPlainObject(arg)) throw stageError(15947, "a facet's fields must be specified in an object");
      const out: Document = {};
      for (const [key, sub] of Object.entries(arg)) {
        if (!Array.isArray(sub)) throw stageError(40170, 'arguments to $facet must be arrays');
        out[key] = runPipeline(docs, sub as Document[], context);
      }
      return [out];
    }
    case '$changeStream':
      throw stageError(40602, '$changeStream is only valid as the first stage in a pipeline.');
    case '$out':
    case '$merge':
      throw stageError(40601, `${name} can only be the final stage in the pipeline`);
    case '$documents':
    case '$listLocalSessions':
      throw stageError(40602, `${name} is only valid as the first stage in a pipeline.`);
    default:
      throw unrecognizedStage(name);
  }
}

function nonNegative(stage: string, arg: unknown): number {
  if (!isNumeric(arg) || toNumber(arg) < 0) throw badValue(`invalid argument to ${stage} stage`);
  return Math.trunc(toNumber(arg));
}

function unwind(docs: Document[], arg: unknown): Document[] {
  const spec = typeof arg === 'string' ? { path: arg } : arg;
  if (!isPlainObject(spec) || typeof spec.path !== 'string' || !spec.path.startsWith('$')) {
    throw stageError(28812, 'no path specified to $unwind stage');
  }
  const path = spec.path.slice(1).split('.');
  const keepEmpty = spec.preserveNullAndEmptyArrays === true;
  const indexField = typeof spec.includeArrayIndex === 'string' ? spec.includeArrayIndex : undefined;
  const out: Document[] = [];
  for (const doc of docs) {
    const value = traversePath(doc, path);
    if (Array.isArray(value) && value.length > 0) {
      value.forEach((element, index) => {
        const copy = setPath(cloneValue(doc), path, element);
        if (indexField) copy[indexField] = index;
        out.push(copy);
      });
    } else if (Array.isArray(value) || value === undefined || value === null) {
      if (keepEmpty) {
        const copy = Array.isArray(value) ? unsetPath(cloneValue(doc), path) : cloneValue(doc);
        if (indexField) copy[indexField] = null;
        out.push(copy);
      }
    } else {
      const copy = cloneValue(doc);
      if (indexField) copy[indexField] = null;
      out.push(copy);
    }
  }
  return out;
}

function setPath(doc: Document, parts: string[], value: unknown): Document {
  let cursor = doc;
  for (const part of parts.slice(0, -1)) cursor = cursor[part] as Document;
  cursor[parts[parts.length - 1]!] = value;
  return doc;
}

function unsetPath(doc: Document, parts: string[]): Document {
  let cursor = doc;
  for (const part of parts.slice(0, -1)) cursor = cursor[part] as Document;
  delete cursor[parts[parts.length - 1]!];
  return doc;
}

function lookup(docs: Document[], arg: unknown, context: PipelineContext): Document[] {
  if (!isPlainObject(arg) || typeof arg.as !== 'string' || typeof arg.from !== 'string' || !context.collection) {
    throw stageError(ErrorCodes.FailedToParse, '$lookup needs from, as and either localField/foreignField or pipeline');
  }
  const foreign = context.collection(arg.from);
  const as = arg.as;
  if (typeof arg.localField === 'string' && typeof arg.foreignField === 'string') {
    const local = arg.localField.split('.');
    const remote = arg.foreignField.split('.');
    return docs.map((doc) => {
      const value = traversePath(doc, local);
      const wanted = Array.isArray(value) ? value : [value ?? null];
      const matches = foreign.filter((f) => {
        const candidate = traversePath(f, remote);
        const candidates = Array.isArray(candidate) ? candidate : [candidate ?? null];
        return candidates.some((c) => wanted.some((w) => valuesEqual(c, w)));
      });
      return { ...cloneValue(doc), [as]: matches.map(cloneValue) };
    });
  }
  if (Array.isArray(arg.pipeline)) {
    const lets = isPlainObject(arg.let) ? Object.entries(arg.let) : [];
    const scope = rootScope(Object.keys(context.variables));
    const compiledLets = lets.map(([k, v]) => [k, compileExpression(v, scope)] as const);
    return docs.map((doc) => {
      const vars = { ...context.variables };
      for (const [k, expr] of compiledLets) vars[k] = expr(documentVariables(doc, context.variables));
      return {
        ...cloneValue(doc),
        [as]: runPipeline(foreign, arg.pipeline as Document[], { ...context, variables: vars }),
      };
    });
  }
  throw stageError(ErrorCodes.FailedToParse, '$lookup needs either localField/foreignField or pipeline');
}

type Accumulator = { add(vars: Variables): void; result(): unknown };

function accumulator(spec: unknown, field: string, scope: Scope): () => Accumulator {
  if (!isPlainObject(spec) || Object.keys(spec).length !== 1) {
    throw stageError(40234, `The field '${field}' must be an accumulator object`);
  }
  const [op, arg] = Object.entries(spec)[0]!;
  const expr = compileExpression(arg, scope);
  const collecting = (finish: (values: unknown[]) => unknown) => (): Accumulator => {
    const values: unknown[] = [];
    return { add: (vars) => void values.push(expr(vars)), result: () => finish(values) };
  };
  switch (op) {
    case '$sum':
      return collecting((values) => values.filter(isNumeric).reduce<unknown>((s, v) => arithmetic(s, v, 'add'), 0));
    case '$avg':
      return collecting((values) => {
        const nums = values.filter(isNumeric).map(toNumber);
        return nums.length === 0 ? null : nums.reduce((a, b) => a + b, 0) / nums.length;
      });
    case '$min':
    case '$max':
      return collecting((values) => {
        const present = values.filter((v) => v !== undefined && v !== null);
        if (present.length === 0) return null;
        return present.reduce((a, b) => (compareValues(a, b) < 0 === (op === '$min') ? a : b));
      });
    case '$first':
      return collecting((values) => (values.length === 0 ? null : (values[0] ?? null)));
    case '$last':
      return collecting((values) => (values.length === 0 ? null : (values[values.length - 1] ?? null)));
    case '$push':
      return collecting((values) => values.filter((v) => v !== undefined));
    case '$addToSet':
      return collecting((values) => {
        const out: unknown[] = [];
        for (const v of values) if (v !== undefined && !out.some((o) => valuesEqual(o, v))) out.push(v);
        return out;
      });
    case '$count':
      return () => {
        let n = 0;
        return { add: () => void (n += 1), result: () => n };
      };
    case '$mergeObjects':
      return collecting((values) => Object.assign({}, ...values.filter(isPlainObject)));
    default:
      throw stageError(15952, `unknown group operator '${op}'`);
  }
}

function group(docs: Document[], spec: unknown, scope: Scope, variables: Variables): Document[] {
  if (!isPlainObject(spec) || !('_id' in spec)) throw stageError(15955, 'a group specification must include an _id');
  const idExpr = compileExpression(spec._id, scope);
  const makers = Object.entries(spec)
    .filter(([k]) => k !== '_id')
    .map(([k, v]) => [k, accumulator(v, k, scope)] as const);
  const groups = new Map<string, { id: unknown; accumulators: Array<[string, Accumulator]> }>();
  for (const doc of docs) {
    const vars = documentVariables(doc, variables);
    const id = idExpr(vars) ?? null;
    const key = canonicalKey(id);
    let entry = groups.get(key);
    if (!entry) {
      entry = { id, accumulators: makers.map(([k, make]) => [k, make()]) };
      groups.set(key, entry);
    }
    for (const [, acc] of entry.accumulators) acc.add(vars);
  }
  return [...groups.values()].map(({ id, accumulators }) => ({
    _id: id,
    ...Object.fromEntries(accumulators.map(([k, a]) => [k, a.result()])),
  }));
}
