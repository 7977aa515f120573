/**
 * Hard bounds of the protocol. The gateway may be configured tighter, never looser. Every bound is
 * enforced by a schema in `schemas.ts` (tighter ones by the schemas `clientEventSchemas(limits)`
 * builds), so a payload beyond them is refused before a handler runs and nothing checks a length by hand.
 */
export const LIMITS = {
  /** Room names: letters, digits and `_ . : -`, starting with a letter or digit. */
  roomName: { minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$' },
  /** Display names chosen in anonymous mode or carried in a JWT. */
  displayName: { minLength: 1, maxLength: 40 },
  /** User ids: a JWT's `sub`, or the `userId` an anonymous client picks. */
  userId: { minLength: 1, maxLength: 128 },
  /** Message text, in UTF-16 code units (what `String.prototype.length` counts). */
  messageText: { minLength: 1, maxLength: 4000 },
  clientMessageId: { minLength: 1, maxLength: 64 },
  /** Page sizes for `history:fetch` and the history returned by `room:join`. */
  historyPage: { default: 50, max: 100 },
  /** SSE `Last-Event-ID` / message ids. */
  messageId: { maxLength: 64 },
  /** A JWT, in the handshake, an `Authorization` header or `?token=`: bounds what is parsed. */
  accessToken: { minLength: 1, maxLength: 8192 },
  /** API keys of backend publishers. */
  apiKey: { minLength: 16, maxLength: 256 },
  /** `Idempotency-Key` of the HTTP publish API. */
  idempotencyKey: { minLength: 1, maxLength: 255 },
  /** Page sizes of `members:list`. */
  membersPage: { default: 100, max: 500 },
} as const;

/** Bounds a gateway configures tighter than `LIMITS` (each at most the protocol's own). */
export interface ConfiguredLimits {
  /** Longest message text; default and ceiling `LIMITS.messageText.maxLength`. */
  maxMessageLength?: number;
}

const roomNamePattern = new RegExp(LIMITS.roomName.pattern);

export function isValidRoomName(room: unknown): room is string {
  return typeof room === 'string' && roomNamePattern.test(room);
}
