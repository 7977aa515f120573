import type { ChatMessage, ErrorCode, RoomEventName } from '@switchyard/protocol';

/*
 * The Server-Sent Events wire format. A frame is encoded once and the same bytes are written
 * to every stream that gets it. `data:` is one line of JSON (JSON.stringify escapes CR and LF,
 * the only line breaks of the format).
 */

/** The event names on an SSE stream: the room events, plus the stream's own. */
export type SseEventName = RoomEventName | 'gap' | 'error' | 'server:shutdown';

export interface SseFrame {
  readonly event: SseEventName;
  /** Only `message:new` frames carry an id: the message id, which a client resumes from. */
  readonly id: string | undefined;
  readonly bytes: Buffer;
}

/** What `event: gap` carries: the client resumed from an id the history no longer holds. */
export interface GapNotice {
  lastEventId: string;
  /** The oldest message still held after it, when there is one. */
  oldestAvailableId?: string;
}

/** What `event: error` carries just before the gateway closes the stream. */
export interface StreamErrorNotice {
  code: ErrorCode;
  message: string;
  /** Everything up to this id was sent before the error: resume from it. */
  lastEventId?: string;
}

// An id with a line break or NUL would corrupt the stream; store ids never have one.
const UNSAFE_ID = /[\r\n\0]/;

export function frame(event: SseEventName, data: unknown, id?: string): SseFrame {
  const safeId = id !== undefined && !UNSAFE_ID.test(id) ? id : undefined;
  const text = `event: ${event}\n${safeId === undefined ? '' : `id: ${safeId}\n`}data: ${JSON.stringify(data)}\n\n`;
  return { event, id: safeId, bytes: Buffer.from(text) };
}

export function messageFrame(message: ChatMessage): SseFrame {
  return frame('message:new', message, message.id);
}

/** The first bytes of a stream: the reconnection delay hint, and a comment that flushes the headers. */
export function preamble(retryMs: number): Buffer {
  return Buffer.from(`retry: ${retryMs}\n: connected\n\n`);
}

/** A comment line: clients ignore it, idle proxies see traffic. */
export const HEARTBEAT = Buffer.from(': heartbeat\n\n');
