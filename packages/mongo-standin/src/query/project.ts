import type { Document } from 'bson';
import { badValue } from '../errors.js';
import { getPath, hasPath } from './paths.js';
import { cloneValue, isPlainObject, toNumber } from './values.js';

export type Projector = (doc: Document) => Document;

/** Compiles an inclusion or exclusion projection (`{ a: 1, 'b.c': 1 }` or `{ a: 0 }`); `_id` is kept unless excluded. */
export function compileProjection(spec: unknown): Projector {
  if (spec === undefined || spec === null) return (doc) => doc;
  if (!isPlainObject(spec)) throw badValue('projection must be an object');
  const entries = Object.entries(spec);
  if (entries.length === 0) return (doc) => doc;
  const flags = entries.map(([path, v]) => {
    if (isPlainObject(v) || typeof v === 'string')
      throw badValue(`projection operators and expressions are not supported by the stand-in: ${path}`);
    return [path, typeof v === 'boolean' ? v : toNumber(v) !== 0] as const;
  });
  const nonId = flags.filter(([p]) => p !== '_id');
  const inclusion = nonId.length > 0 ? nonId[0]![1] : !(flags.find(([p]) => p === '_id')?.[1] === false);
  if (nonId.some(([, v]) => v !== inclusion)) throw badValue('Cannot do exclusion on a field in inclusion projection');
  const idFlag = flags.find(([p]) => p === '_id')?.[1];
  if (inclusion) {
    const paths = nonId.map(([p]) => p);
    if (idFlag !== false) paths.unshift('_id');
    return (doc) => {
      const out: Document = {};
      for (const path of paths) if (hasPath(doc, path)) setNested(out, path, cloneValue(getPath(doc, path)));
      return out;
    };
  }
  const paths = flags.filter(([, v]) => !v).map(([p]) => p);
  return (doc) => {
    const out = cloneValue(doc);
    for (const path of paths) removeNested(out, path);
    return out;
  };
}

function setNested(doc: Document, path: string, value: unknown): void {
  const parts = path.split('.');
  let cursor = doc;
  for (const key of parts.slice(0, -1)) {
    if (!isPlainObject(cursor[key])) cursor[key] = {};
    cursor = cursor[key] as Document;
  }
  cursor[parts[parts.length - 1]!] = value;
}

function removeNested(doc: Document, path: string): void {
  const parts = path.split('.');
  let cursor: unknown = doc;
  for (const key of parts.slice(0, -1)) {
    if (!isPlainObject(cursor)) return;
    cursor = cursor[key];
  }
  if (isPlainObject(cursor)) delete cursor[parts[parts.length - 1]!];
}
