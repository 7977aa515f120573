import type { Document } from 'bson';
import type { ReplicaSetMember } from '../member.js';
import { canonicalKey, isPlainObject } from '../query/values.js';

/**
 * The member's logical session cache, as `$listLocalSessions` reports it
 * (https://www.mongodb.com/docs/manual/reference/operator/aggregation/listLocalSessions/): every session id
 * a command carried, with its last use. Bounded: the least recently used are forgotten first.
 */
const MAX_SESSIONS = 10_000;
const caches = new WeakMap<ReplicaSetMember, Map<string, Document>>();

function cacheOf(member: ReplicaSetMember): Map<string, Document> {
  let cache = caches.get(member);
  if (!cache) {
    cache = new Map();
    caches.set(member, cache);
  }
  return cache;
}

const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));

/** A session id's key: the UUID's hex (built directly: this runs for every command). */
function sessionKey(id: unknown): string {
  const bin = id as { buffer?: Uint8Array; position?: number; _bsontype?: string };
  if (bin._bsontype !== 'Binary' || !bin.buffer) return canonicalKey(id);
  let key = '';
  const end = bin.position ?? bin.buffer.length;
  for (let i = 0; i < end; i++) key += HEX[bin.buffer[i]!];
  return key;
}

/** Notes the use of a command's `lsid`. */
export function recordSession(member: ReplicaSetMember, lsid: unknown): void {
  if (!isPlainObject(lsid) || lsid.id === undefined) return;
  const cache = cacheOf(member);
  const key = sessionKey(lsid.id);
  cache.delete(key);
  if (cache.size >= MAX_SESSIONS) cache.delete(cache.keys().next().value as string);
  cache.set(key, { _id: { id: lsid.id }, lastUse: new Date() });
}

/** The cached sessions, most recently used last. */
export function localSessions(member: ReplicaSetMember): Document[] {
  return [...cacheOf(member).values()].map((session) => ({ ...session }));
}
