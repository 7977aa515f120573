/**
 * Hard bounds of the protocol. The gateway may be configured tighter, never looser:
 * schemas reject anything beyond these before a handler runs.
 */
export const LIMITS = {
  /** Room names: letters, digits and `_ . : -`, starting with a letter or digit. */
  roomName: { minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$' },
  /** Display names chosen in anonymous mode or carried in a JWT. */
  displayName: { minLength: 1, maxLength: 40 },
  /** Message text, in UTF-16 code units (what `String.prototype.length` counts). */
  messageText: { minLength: 1, maxLength: 4000 },
  clientMessageId: { minLength: 1, maxLength: 64 },
  /** Page sizes for `history:fetch` and the history returned by `room:join`. */
  historyPage: { default: 50, max: 100 },
  /** SSE `Last-Event-ID` / message ids. */
  messageId: { maxLength: 64 },
} as const;

const roomNamePattern = new RegExp(LIMITS.roomName.pattern);

export function isValidRoomName(room: unknown): room is string {
  return typeof room === 'string' && roomNamePattern.test(room);
}
