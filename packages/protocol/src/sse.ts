import type { ErrorCode } from './errors.js';
import type { ChatMessage, PresenceCount, PresenceDiff, ShutdownNotice, TypingEvent } from './events.js';
import { ROOM_EVENTS } from './events.js';

/*
 * The Server-Sent Events wire of `GET /v1/rooms/:room/events`: event names, payloads, the encoding
 * the gateway writes and the parser clients read it with. Nothing here imports the schema library,
 * so a browser bundle that only listens stays small.
 */

/** What `event: gap` carries: the client resumed from an id the room's history does not hold (evicted, or never issued). */
export interface SseGap {
  lastEventId: string;
  /** The oldest message still held after it, where the replay resumed, when there is one. */
  oldestAvailableId?: string;
}

/** What `event: error` carries just before the gateway ends the stream. */
export interface SseError {
  code: ErrorCode;
  message: string;
  /** Everything up to this id was sent before the error: resume from it. */
  lastEventId?: string;
}

/** The payload of every event a stream carries: the room events, then the stream's own. */
export interface SseEvents {
  'message:new': ChatMessage;
  'presence:diff': PresenceDiff;
  'presence:count': PresenceCount;
  typing: TypingEvent;
  gap: SseGap;
  error: SseError;
  'server:shutdown': ShutdownNotice;
}

export type SseEventName = keyof SseEvents;

/** Every event name a stream may carry, room events first. */
export const SSE_EVENTS = [
  ...ROOM_EVENTS,
  'gap',
  'error',
  'server:shutdown',
] as const satisfies readonly SseEventName[];

// An id with a line break or NUL would corrupt the stream; message ids never have one.
const UNSAFE_ID = /[\r\n\0]/;

/** The id as it goes on the wire: undefined when there is none, or when it would break the framing. */
export function sseIdOf(id: string | undefined): string | undefined {
  return id !== undefined && !UNSAFE_ID.test(id) ? id : undefined;
}

/**
 * One event in the text/event-stream format. `data:` is one line of JSON (JSON.stringify escapes
 * CR and LF, the format's only line breaks). Only `message:new` carries an `id:`, the message id a
 * client resumes from; an id that could break the framing is left out.
 */
export function encodeSseEvent<E extends SseEventName>(event: E, data: SseEvents[E], id?: string): string {
  const wireId = sseIdOf(id);
  const line = wireId === undefined ? '' : `id: ${wireId}\n`;
  return `event: ${event}\n${line}data: ${JSON.stringify(data)}\n\n`;
}

/** The first bytes of a stream: the reconnection delay hint, and a comment that flushes the headers. */
export function encodeSsePreamble(retryMs: number): string {
  return `retry: ${retryMs}\n: connected\n\n`;
}

/** A comment line: clients ignore it, idle proxies see traffic. */
export const SSE_HEARTBEAT = ': heartbeat\n\n';

/** One dispatched event, as the parser sees it (data not parsed: a listener decides what it trusts). */
export interface ParsedSseEvent {
  event: string;
  data: string;
  id: string | undefined;
}

export interface SseParserHandlers {
  onEvent(event: ParsedSseEvent): void;
  onComment?(comment: string): void;
  onRetry?(ms: number): void;
}

/**
 * A text/event-stream parser (HTML standard, "Interpreting an event stream"): lines end with CR, LF
 * or CRLF; `field: value`; a blank line dispatches an event that has data; lines starting with `:` are
 * comments. Feed it decoded text in chunks of any size; it keeps what is left of an unfinished line.
 * Linear in the input: each call scans its text once and cuts the buffer once.
 */
export function createSseParser(handlers: SseParserHandlers): (text: string) => void {
  let buffer = '';
  let event = '';
  let data: string[] = [];
  let id: string | undefined;
  let sawData = false;
  const lineEnd = /\r\n|\r|\n/g;
  return (text) => {
    buffer += text;
    let start = 0;
    for (;;) {
      lineEnd.lastIndex = start;
      const match = lineEnd.exec(buffer);
      // A lone CR at the very end may be half of a CRLF: wait for more.
      if (match === null || (match[0] === '\r' && match.index === buffer.length - 1)) break;
      const line = buffer.slice(start, match.index);
      start = match.index + match[0].length;
      if (line === '') {
        if (sawData) handlers.onEvent({ event: event || 'message', data: data.join('\n'), id });
        event = '';
        data = [];
        sawData = false;
        id = undefined;
      } else if (line.startsWith(':')) {
        handlers.onComment?.(line.slice(1).trim());
      } else {
        const colon = line.indexOf(':');
        const field = colon === -1 ? line : line.slice(0, colon);
        const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') event = value;
        else if (field === 'data') {
          data.push(value);
          sawData = true;
        } else if (field === 'id') id = value;
        else if (field === 'retry' && /^\d+$/.test(value)) handlers.onRetry?.(Number(value));
      }
    }
    buffer = buffer.slice(start);
  };
}
