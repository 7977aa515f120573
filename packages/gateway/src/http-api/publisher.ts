import type { IncomingHttpHeaders } from 'node:http';
import { SwitchyardError } from '@switchyard/protocol';
import { bearerCredentials } from '../auth/bearer.js';
import type { TokenVerifier } from '../auth/identify.js';
import type { Poster } from '../rooms/service.js';
import type { ApiKeyCheck } from './api-keys.js';

/*
 * Who publishes over HTTP: a backend service holding an API key (`X-API-Key`, or
 * `Authorization: Bearer <key>`), or — in jwt mode — a user whose token carries the `publish`
 * scope. A service may publish as any author; a user only as themself.
 */

export interface Publisher {
  /** Scope of idempotency keys and of rate limiting. */
  id: string;
  /** Who the room service sees posting: a service (any room, any author) or a user (their rooms, as themself). */
  poster: Poster;
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
    return { id: `user-${user.id}`, poster: { kind: 'user', user } };
  };
}

function byApiKey(apiKeys: ApiKeyCheck, candidate: string): Publisher {
  const key = apiKeys(candidate);
  if (key === undefined) throw new SwitchyardError('AUTH_INVALID', 'Unknown API key');
  return serviceOf(key.publisherId);
}

function serviceOf(publisherId: string): Publisher {
  return { id: publisherId, poster: { kind: 'service', defaultAuthor: { id: publisherId, name: SERVICE_NAME } } };
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
