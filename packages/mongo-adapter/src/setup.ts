import type { Collection, Db, Document } from 'mongodb';
import { errorFacts, MongoAdapterError } from './errors.js';

export interface SetupOptions {
  /**
   * TTL of stored messages in seconds (default 3600). Nodes read messages from the change stream, not from
   * the collection, so this only bounds the collection's size; the oplog window is what bounds recovery.
   */
  ttlSeconds?: number;
  /** Use a capped collection instead of a TTL index. Sessions then go to `<name>_sessions` (capped collections cannot delete). */
  capped?: { sizeBytes: number; maxDocuments?: number };
}

export interface SetupResult {
  collection: Collection<Document>;
  /** Pass as the adapter's `sessions` option (it is `collection` itself unless capped). */
  sessions: Collection<Document>;
}

const NAMESPACE_EXISTS = 48;
const INDEX_OPTIONS_CONFLICT = 85;
const INDEX_KEY_SPECS_CONFLICT = 86;
const COMMAND_NOT_FOUND = 59;

/**
 * Creates the collection and its indexes; safe to run on every start (idempotent). A TTL that differs
 * from the existing index is updated with `collMod`.
 */
export async function setupCollection(db: Db, name: string, options: SetupOptions = {}): Promise<SetupResult> {
  const problems: string[] = [];
  const ttl = options.ttlSeconds ?? 3600;
  if (!Number.isInteger(ttl) || ttl < 1) problems.push('ttlSeconds must be a positive integer');
  if (options.capped && !(Number.isInteger(options.capped.sizeBytes) && options.capped.sizeBytes >= 4096)) {
    problems.push('capped.sizeBytes must be an integer >= 4096');
  }
  if (options.capped && options.ttlSeconds !== undefined) problems.push('choose ttlSeconds or capped, not both');
  if (problems.length > 0)
    throw new MongoAdapterError('INVALID_OPTIONS', `Invalid setup options: ${problems.join('; ')}`, {
      details: problems,
    });

  if (options.capped) {
    await createIfMissing(db, name, {
      capped: true,
      size: options.capped.sizeBytes,
      ...(options.capped.maxDocuments ? { max: options.capped.maxDocuments } : {}),
    });
    const sessionsName = `${name}_sessions`;
    await createIfMissing(db, sessionsName, {});
    const sessions = db.collection(sessionsName);
    await ensureTtlIndex(db, sessions, 'expiresAt', 0);
    return { collection: db.collection(name), sessions };
  }
  await createIfMissing(db, name, {});
  const collection = db.collection(name);
  await ensureTtlIndex(db, collection, 'createdAt', ttl);
  // Recovery sessions expire on their own clock (maxDisconnectionDuration), not the messages' TTL.
  await ensureTtlIndex(db, collection, 'expiresAt', 0);
  return { collection, sessions: collection };
}

async function createIfMissing(db: Db, name: string, options: Document): Promise<void> {
  try {
    await db.createCollection(name, options);
  } catch (error) {
    if (errorFacts(error).code !== NAMESPACE_EXISTS) throw error;
  }
}

async function ensureTtlIndex(db: Db, collection: Collection<Document>, field: string, seconds: number): Promise<void> {
  const name = `${field}_ttl`;
  try {
    await collection.createIndex({ [field]: 1 }, { name, expireAfterSeconds: seconds });
  } catch (error) {
    const code = errorFacts(error).code;
    if (code !== INDEX_OPTIONS_CONFLICT && code !== INDEX_KEY_SPECS_CONFLICT) throw error;
    try {
      await db.command({ collMod: collection.collectionName, index: { name, expireAfterSeconds: seconds } });
    } catch (collModError) {
      // Without collMod (some proxies and test servers), replace the index: briefly no TTL, nothing lost.
      if (errorFacts(collModError).code !== COMMAND_NOT_FOUND) throw collModError;
      await collection.dropIndex(name);
      await collection.createIndex({ [field]: 1 }, { name, expireAfterSeconds: seconds });
    }
  }
}
