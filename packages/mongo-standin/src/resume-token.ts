import type { Timestamp } from 'bson';
import { CommandError, ErrorCodes } from './errors.js';
import { isPlainObject } from './query/values.js';

/**
 * Resume tokens: `{ _data: '<hex>' }`, fixed width so that string order is stream order.
 * Layout (stand-in specific, opaque to drivers): '82' + seconds(8 hex) + increment(8 hex) + kind(2 hex).
 * kind 00 = high-water mark "before this time", 01 = the event written at this time, 02 = the invalidate
 * that follows a drop at this time. A token is also a position: a stream at token T has delivered all
 * events whose token is <= T.
 */
export const TokenKind = { HighWaterMark: 0, Event: 1, Invalidate: 2 } as const;
export type TokenKind = (typeof TokenKind)[keyof typeof TokenKind];

export interface ResumeToken {
  _data: string;
}

const hex8 = (n: number) => n.toString(16).toUpperCase().padStart(8, '0');

export function tokenData(ts: { t: number; i: number }, kind: TokenKind): string {
  return `82${hex8(ts.t)}${hex8(ts.i)}${kind.toString(16).padStart(2, '0')}`;
}

export function tokenAt(ts: Timestamp | { t: number; i: number }, kind: TokenKind): ResumeToken {
  return { _data: tokenData(ts, kind) };
}

export interface ParsedToken {
  data: string;
  t: number;
  i: number;
  kind: TokenKind;
}

const TOKEN_PATTERN = /^82([0-9A-F]{8})([0-9A-F]{8})(0[0-2])$/;

/** Parses a token a client sent back; anything we did not issue is `InvalidResumeToken` (260). */
export function parseToken(value: unknown): ParsedToken {
  const data = isPlainObject(value) ? value._data : undefined;
  const match = typeof data === 'string' ? TOKEN_PATTERN.exec(data.toUpperCase()) : null;
  if (!match) {
    throw new CommandError(
      ErrorCodes.InvalidResumeToken,
      `Bad resume token: _data of unknown format: ${JSON.stringify(value)}`,
    );
  }
  return {
    data: data!.toUpperCase(),
    t: Number.parseInt(match[1]!, 16),
    i: Number.parseInt(match[2]!, 16),
    kind: Number.parseInt(match[3]!, 16) as TokenKind,
  };
}
