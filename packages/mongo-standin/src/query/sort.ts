import type { Document } from 'bson';
import { badValue } from '../errors.js';
import { valuesAtPath } from './paths.js';
import { compareValues, isPlainObject, toNumber } from './values.js';

export type Comparator = (a: Document, b: Document) => number;

/** Sort key of one document for one path: the smallest (ascending) or largest (descending) reachable value. */
function sortKey(doc: Document, path: string, direction: number): unknown {
  const values = valuesAtPath(doc, path).flatMap((v) => (Array.isArray(v) ? (v.length === 0 ? [undefined] : v) : [v]));
  let best: unknown = values[0] ?? null;
  for (const v of values.slice(1)) {
    const c = compareValues(v ?? null, best ?? null);
    if (direction > 0 ? c < 0 : c > 0) best = v;
  }
  return best ?? null;
}

/** Compiles a sort spec; returns undefined for no sort or `$natural` (insertion order). */
export function compileSort(spec: unknown): Comparator | undefined {
  if (spec === undefined || spec === null) return undefined;
  if (!isPlainObject(spec)) throw badValue('sort must be an object');
  const keys = Object.entries(spec).map(([path, dir]) => {
    if (isPlainObject(dir)) throw badValue(`$meta sorts are not supported by the stand-in: ${path}`);
    const n = toNumber(dir);
    if (n !== 1 && n !== -1) throw badValue(`$sort key ordering must be 1 (for ascending) or -1 (for descending)`);
    return [path, n] as const;
  });
  if (keys.length === 0) return undefined;
  if (keys.length === 1 && keys[0]![0] === '$natural') {
    return keys[0]![1] === 1 ? undefined : () => 0;
  }
  return (a, b) => {
    for (const [path, dir] of keys) {
      const c = compareValues(sortKey(a, path, dir), sortKey(b, path, dir));
      if (c !== 0) return c * dir;
    }
    return 0;
  };
}

/** Sorts a copy, stable, honouring `$natural: -1` as reverse insertion order. */
export function sortDocuments(docs: Document[], spec: unknown): Document[] {
  if (isPlainObject(spec) && Object.keys(spec).length === 1 && '$natural' in spec) {
    return toNumber(spec.$natural) < 0 ? [...docs].reverse() : docs;
  }
  const comparator = compileSort(spec);
  return comparator ? [...docs].sort(comparator) : docs;
}
