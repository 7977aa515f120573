import type { Document } from 'bson';
import { isPlainObject } from './values.js';

/**
 * Values reachable by a dotted path, with MongoDB's array traversal: `a.b` on `{ a: [{ b: 1 }, { b: 2 }] }`
 * yields 1 and 2; a numeric segment also indexes arrays. A missing field yields `undefined`.
 */
export function valuesAtPath(doc: unknown, path: string): unknown[] {
  const out: unknown[] = [];
  walk(doc, path.split('.'), 0, out);
  return out;
}

function walk(value: unknown, parts: string[], i: number, out: unknown[]): void {
  if (i === parts.length) {
    out.push(value);
    return;
  }
  const key = parts[i]!;
  if (Array.isArray(value)) {
    if (/^\d+$/.test(key)) {
      const index = Number(key);
      if (index < value.length) walk(value[index], parts, i + 1, out);
    }
    let descended = false;
    for (const element of value) {
      if (isPlainObject(element) || Array.isArray(element)) {
        walk(element, parts, i, out);
        descended = true;
      }
    }
    if (!descended && !/^\d+$/.test(key)) out.push(undefined);
    return;
  }
  if (isPlainObject(value)) {
    walk(Object.prototype.hasOwnProperty.call(value, key) ? value[key] : undefined, parts, i + 1, out);
    return;
  }
  out.push(undefined);
}

/** The single value at a path without array traversal (for update operators and projections). */
export function getPath(doc: Document, path: string): unknown {
  let cursor: unknown = doc;
  for (const key of path.split('.')) {
    if (Array.isArray(cursor) && /^\d+$/.test(key)) cursor = cursor[Number(key)];
    else if (isPlainObject(cursor))
      cursor = Object.prototype.hasOwnProperty.call(cursor, key) ? cursor[key] : undefined;
    else return undefined;
  }
  return cursor;
}

export function hasPath(doc: Document, path: string): boolean {
  let cursor: unknown = doc;
  for (const key of path.split('.')) {
    if (Array.isArray(cursor) && /^\d+$/.test(key)) {
      if (Number(key) >= cursor.length) return false;
      cursor = cursor[Number(key)];
    } else if (isPlainObject(cursor) && Object.prototype.hasOwnProperty.call(cursor, key)) cursor = cursor[key];
    else return false;
  }
  return true;
}
