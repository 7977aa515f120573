import { randomBytes } from 'node:crypto';
import { errors as joseErrors, jwtVerify } from 'jose';
import {
  AccessToken,
  AnonymousUserId,
  compileValidator,
  DisplayName,
  ERRORS,
  LIMITS,
  type Member,
  SwitchyardError,
  UserId,
} from '@switchyard/protocol';
import type { AuthConfig } from '../config.js';

/*
 * Who is on the other end of a handshake. Socket.IO's `handshake.auth` is client-chosen
 * JSON of any shape, so every field is checked here before it becomes `socket.data.user`.
 */

// Bounds what jose is asked to parse, and what becomes a user.
const accessTokens = compileValidator(AccessToken);
const userIds = compileValidator(UserId);
const anonymousUserIds = compileValidator(AnonymousUserId);
const displayNames = compileValidator(DisplayName);

/** Who connected, and until when (a JWT's `exp`, in ms since the epoch; none in anonymous mode). */
export interface Identity {
  user: Member;
  expiresAt?: number;
}

export type Identify = (handshakeAuth: unknown, socketId: string) => Promise<Identity>;

export function createIdentify(auth: AuthConfig): Identify {
  if (auth.mode === 'anonymous')
    return async (handshakeAuth, socketId) => ({ user: identifyAnonymous(fields(handshakeAuth), socketId) });
  const verify = createTokenVerifier(auth);
  return async (handshakeAuth) => {
    const { user, expiresAt } = await verify(fields(handshakeAuth).token);
    return expiresAt === undefined ? { user } : { user, expiresAt };
  };
}

/** A verified JWT: the user it names, when it expires, and all its claims (e.g. `scope` for the HTTP publish API). */
export interface VerifiedToken {
  user: Member;
  /** `exp` in ms since the epoch, when the token has one. */
  expiresAt?: number;
  claims: Readonly<Record<string, unknown>>;
}

export type TokenVerifier = (token: unknown) => Promise<VerifiedToken>;

/**
 * Verifies a JWT the way the socket handshake does (HS256 pinned, exp/nbf, iss/aud when
 * configured, a usable `sub`); shared by sockets, SSE and the HTTP publish API.
 */
export function createTokenVerifier(auth: Extract<AuthConfig, { mode: 'jwt' }>): TokenVerifier {
  const key = new TextEncoder().encode(auth.secret);
  const options = {
    algorithms: ['HS256'],
    ...(auth.requireExp ? { requiredClaims: ['exp'] } : {}),
    ...(auth.issuer === undefined ? {} : { issuer: auth.issuer }),
    ...(auth.audience === undefined ? {} : { audience: auth.audience }),
  };
  return async (token) => {
    if (token === undefined || token === null || token === '') throw new SwitchyardError('AUTH_REQUIRED');
    if (!accessTokens.check(token)) throw new SwitchyardError('AUTH_INVALID');
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, key, options));
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired)
        throw new SwitchyardError('AUTH_EXPIRED', undefined, { cause: error });
      if (error instanceof joseErrors.JWTClaimValidationFailed && error.claim === 'exp')
        throw new SwitchyardError(
          'AUTH_INVALID',
          `${ERRORS.AUTH_INVALID.message}: it has no exp claim (JWT_REQUIRE_EXP)`,
          { cause: error },
        );
      throw new SwitchyardError('AUTH_INVALID', undefined, { cause: error });
    }
    const sub = payload.sub;
    if (!userIds.check(sub)) {
      throw new SwitchyardError(
        'AUTH_INVALID',
        `${ERRORS.AUTH_INVALID.message}: the sub claim must be a string of ${LIMITS.userId.minLength}-${LIMITS.userId.maxLength} characters`,
      );
    }
    const name = displayName(payload.name) ?? displayName(sub.slice(0, LIMITS.displayName.maxLength)) ?? 'user';
    const exp = payload.exp;
    return {
      user: { id: sub, name },
      ...(typeof exp === 'number' ? { expiresAt: exp * 1000 } : {}),
      claims: payload,
    };
  };
}

/**
 * Anonymous mode is for local use: the client names itself. `auth.userId` lets one person's
 * tabs count as one member (the SDK can keep it in localStorage); without it every socket is
 * its own user, `anon-<socket id>`.
 */
function identifyAnonymous(auth: Record<string, unknown>, socketId: string): Member {
  let name = `guest-${randomBytes(2).toString('hex')}`;
  if (auth.name !== undefined) {
    const chosen = displayName(auth.name);
    if (chosen === undefined) {
      throw new SwitchyardError(
        'INVALID_PAYLOAD',
        `auth.name must be ${LIMITS.displayName.minLength}-${LIMITS.displayName.maxLength} characters without control characters`,
      );
    }
    name = chosen;
  }
  let id = `anon-${socketId}`;
  if (auth.userId !== undefined) {
    if (!anonymousUserIds.check(auth.userId)) {
      throw new SwitchyardError(
        'INVALID_PAYLOAD',
        `auth.userId must be ${LIMITS.userId.minLength}-${LIMITS.userId.maxLength} letters, digits or _ . : @ | -`,
      );
    }
    id = auth.userId;
  }
  return { id, name };
}

function fields(handshakeAuth: unknown): Record<string, unknown> {
  return handshakeAuth !== null && typeof handshakeAuth === 'object' ? (handshakeAuth as Record<string, unknown>) : {};
}

/** A trimmed display name within the protocol's bounds, or undefined. */
export function displayName(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const name = value.trim();
  return displayNames.check(name) ? name : undefined;
}
