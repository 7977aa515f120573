import type { IncomingHttpHeaders } from 'node:http';
import { type Member, SwitchyardError } from '@switchyard/protocol';
import type { ApiKeyCheck } from './api-keys.js';
import { bearerCredentials } from '../auth/bearer.js';
import type { TokenVerifier } from '../auth/identify.js';

/*
 * Who publishes over HTTP: a backend service holding an API key (`X-API-Key`, or
 * `Authorization: Bearer <key>`), or — in jwt mode — a user whose token carries the `publish`
 * scope. A service may publish as any author; a user only as themself.
 */

export interface Publisher {
  /** Scope of idempotency keys and of rate limiting. */
  id: string;
  kind: 'api-key' | 'jwt';
  /** The author of messages that name none. */
  defaultAuthor: Member;
  /** Set for JWT publishers: they are subject to room access rules. */
  user?: Member;
}

export const PUBLISH_SCOPE = 'publish';
const SERVICE_NAME = 'service';

export type PublisherCheck = (headers: IncomingHttpHeaders) => Promise<Publisher>;

export function createPublisherCheck(apiKeys: ApiKeyCheck, verifyToken: TokenVerifier | undefined): PublisherCheck {
  return async (headers) => {
    const headerKey = headers['x-api-key'];
    if (typeof headerKey === 'string') return byApiKey(apiKeys, headerKey);
    const bearer = bearerCredentials(headers);
    if (bearer === undefined) {
      throw new SwitchyardError(
        'AUTH_REQUIRED',
        'An API key (X-API-Key or Authorization: Bearer) or a JWT with the publish scope is required',
      );
    }
    const key = apiKeys(bearer);
    if (key !== undefined) return serviceOf(key.publisherId);
    if (verifyToken === undefined) throw new SwitchyardError('AUTH_INVALID', 'Unknown API key');
    const { user, claims } = await verifyToken(bearer);
    if (!scopesOf(claims).includes(PUBLISH_SCOPE))
      throw new SwitchyardError('FORBIDDEN', `The token lacks the ${PUBLISH_SCOPE} scope`);
    return { id: `user-${user.id}`, kind: 'jwt', defaultAuthor: user, user };
  };
}

function byApiKey(apiKeys: ApiKeyCheck, candidate: string): Publisher {
  const key = apiKeys(candidate);
  if (key === undefined) throw new SwitchyardError('AUTH_INVALID', 'Unknown API key');
  return serviceOf(key.publisherId);
}

function serviceOf(publisherId: string): Publisher {
  return { id: publisherId, kind: 'api-key', defaultAuthor: { id: publisherId, name: SERVICE_NAME } };
}

/** OAuth-style `scope` ("a b c") or an array of scopes (`scope` or `scp`). */
function scopesOf(claims: Readonly<Record<string, unknown>>): string[] {
  const scopes: string[] = [];
  for (const claim of [claims.scope, claims.scp]) {
    if (typeof claim === 'string') scopes.push(...claim.split(' '));
    else if (Array.isArray(claim)) scopes.push(...claim.filter((scope): scope is string => typeof scope === 'string'));
  }
  return scopes;
}
