import type { Document } from 'bson';
import { isPlainObject, valuesEqual } from './values.js';

/**
 * A change event's `updateDescription` (https://www.mongodb.com/docs/manual/reference/change-events/update/),
 * computed as mongod 7.0 computes it: from the "$v: 2" delta of the update (doc_diff.cpp, and
 * change_stream_document_diff_parser.cpp for the description): per level, fields replaced and inserted go to
 * `updatedFields` (at the deepest level where the documents differ), fields gone to `removedFields`, arrays
 * that shrank to `truncatedArrays`, and every path made ambiguous by a numeric or dotted field name to
 * `disambiguatedPaths` (array indices as integers).
 *
 * Operator updates log what each operator wrote: the whole value at its path (or at the first path component
 * it created), appended elements one by one for a plain `$push`. Pipeline updates log the difference between
 * the documents.
 */
export interface UpdateDescription {
  updatedFields: Document;
  removedFields: string[];
  truncatedArrays: Array<{ field: string; newSize: number }>;
  disambiguatedPaths: Document;
}

/** How an operator update touched a path, for the log mongod writes. */
export interface OperatorLog {
  /** Paths whose whole value was set by an operator ($set, $inc, $pull, ...). */
  replaced: ReadonlySet<string>;
  /** Arrays a plain $push appended to (logged element by element). */
  appended: ReadonlySet<string>;
}

type Part = string | number;

interface Builder {
  desc: UpdateDescription;
}

function emit(builder: Builder, path: Part[], kind: 'updated' | 'removed', value?: unknown): void {
  const dotted = path.join('.');
  if (kind === 'updated') builder.desc.updatedFields[dotted] = value;
  else builder.desc.removedFields.push(dotted);
  disambiguate(builder, path);
}

function disambiguate(builder: Builder, path: Part[]): void {
  let ambiguous = false;
  for (let i = 0; i < path.length; i++) {
    const part = path[i]!;
    if (typeof part === 'string' && ((i > 0 && /^\d+$/.test(part)) || part.includes('.'))) ambiguous = true;
  }
  if (ambiguous) builder.desc.disambiguatedPaths[path.join('.')] = [...path];
}

/**
 * The description of the change from `before` to `after`. With `log`, only what the operators logged; without,
 * the full difference (pipeline updates).
 */
export function describeUpdate(before: Document, after: Document, log?: OperatorLog): UpdateDescription {
  const builder: Builder = {
    desc: { updatedFields: {}, removedFields: [], truncatedArrays: [], disambiguatedPaths: {} },
  };
  diffDocuments(builder, before, after, [], log);
  return builder.desc;
}

function diffDocuments(builder: Builder, before: Document, after: Document, path: Part[], log?: OperatorLog): void {
  const updated: Array<[string, unknown]> = [];
  const inserted: Array<[string, unknown]> = [];
  const removed: string[] = [];
  const nested: Array<[string, unknown, unknown]> = [];
  for (const [key, value] of Object.entries(after)) {
    if (!Object.prototype.hasOwnProperty.call(before, key)) {
      inserted.push([key, value]);
      continue;
    }
    const previous = before[key];
    const dotted = [...path, key].join('.');
    if (log?.appended.has(dotted) && Array.isArray(previous) && Array.isArray(value)) {
      nested.push([key, previous, value]);
      continue;
    }
    if (sameValue(previous, value)) continue;
    const opaque = log !== undefined && log.replaced.has(dotted);
    const bothDocuments = isPlainObject(previous) && isPlainObject(value);
    const bothArrays = Array.isArray(previous) && Array.isArray(value);
    if (!opaque && (bothDocuments || bothArrays)) nested.push([key, previous, value]);
    else updated.push([key, value]);
  }
  for (const key of Object.keys(before)) if (!Object.prototype.hasOwnProperty.call(after, key)) removed.push(key);
  for (const [key, value] of [...updated, ...inserted]) emit(builder, [...path, key], 'updated', value);
  for (const key of removed) emit(builder, [...path, key], 'removed');
  for (const [key, previous, value] of nested) {
    if (Array.isArray(previous)) diffArrays(builder, previous, value as unknown[], [...path, key], log);
    else diffDocuments(builder, previous as Document, value as Document, [...path, key], log);
  }
}

function diffArrays(builder: Builder, before: unknown[], after: unknown[], path: Part[], log?: OperatorLog): void {
  if (after.length < before.length) {
    builder.desc.truncatedArrays.push({ field: path.join('.'), newSize: after.length });
    disambiguate(builder, path);
  }
  for (let i = 0; i < after.length; i++) {
    const value = after[i];
    if (i >= before.length) {
      emit(builder, [...path, i], 'updated', value);
      continue;
    }
    const previous = before[i];
    if (sameValue(previous, value)) continue;
    const opaque = log !== undefined && log.replaced.has([...path, i].join('.'));
    if (!opaque && isPlainObject(previous) && isPlainObject(value))
      diffDocuments(builder, previous, value, [...path, i], log);
    else if (!opaque && Array.isArray(previous) && Array.isArray(value))
      diffArrays(builder, previous, value, [...path, i], log);
    else emit(builder, [...path, i], 'updated', value);
  }
}

/** Equal as BSON would store them: same value, same field order, same numeric type (never collated). */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (isPlainObject(a) && isPlainObject(b)) {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k, i) => k === kb[i] && sameValue(a[k], b[k]));
  }
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => sameValue(v, b[i]));
  if (typeof a !== typeof b) return false;
  if (typeof a === 'string') return false;
  return valuesEqual(a, b) && (a as { _bsontype?: string })?._bsontype === (b as { _bsontype?: string })?._bsontype;
}
