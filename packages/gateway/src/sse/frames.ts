import {
  type ChatMessage,
  encodeSseEvent,
  encodeSsePreamble,
  SSE_HEARTBEAT,
  sseIdOf,
  type SseEventName,
  type SseEvents,
} from '@switchyard/protocol';

/*
 * Frames of the protocol's SSE wire, as bytes: a frame is encoded once and the same bytes are
 * written to every stream that gets it.
 */

export interface SseFrame {
  readonly event: SseEventName;
  /** Only `message:new` frames carry an id: the message id, which a client resumes from. */
  readonly id: string | undefined;
  readonly bytes: Buffer;
}

export function frame<E extends SseEventName>(event: E, data: SseEvents[E]): SseFrame {
  return { event, id: undefined, bytes: Buffer.from(encodeSseEvent(event, data)) };
}

export function messageFrame(message: ChatMessage): SseFrame {
  return {
    event: 'message:new',
    id: sseIdOf(message.id),
    bytes: Buffer.from(encodeSseEvent('message:new', message, message.id)),
  };
}

export function preamble(retryMs: number): Buffer {
  return Buffer.from(encodeSsePreamble(retryMs));
}

export const HEARTBEAT = Buffer.from(SSE_HEARTBEAT);
