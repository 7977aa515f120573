import { createHash, timingSafeEqual } from 'node:crypto';
import { ApiKey, compileValidator } from '@switchyard/protocol';

/*
 * API keys for backend publishers. Only SHA-256 digests are held (config never keeps the keys);
 * a candidate is hashed and compared with every digest in constant time, without stopping at
 * the first match, so neither the key nor its position leaks through timing.
 */

export interface ApiKeyMatch {
  /** Stable, non-secret id of the key: `key-` and 12 hex digits of its digest. */
  publisherId: string;
}

export type ApiKeyCheck = (candidate: string) => ApiKeyMatch | undefined;

/** Bounds what is hashed per request. */
const apiKeys = compileValidator(ApiKey);

export function createApiKeyCheck(sha256Hex: readonly string[]): ApiKeyCheck {
  const digests = sha256Hex.map((hex) => Buffer.from(hex, 'hex'));
  return (candidate) => {
    if (digests.length === 0 || !apiKeys.check(candidate)) return undefined;
    const digest = createHash('sha256').update(candidate).digest();
    let matched: Buffer | undefined;
    for (const known of digests) if (timingSafeEqual(digest, known)) matched = known;
    return matched === undefined ? undefined : { publisherId: `key-${matched.toString('hex').slice(0, 12)}` };
  };
}
