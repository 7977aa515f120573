import { describe, expect, it } from 'vitest';
import {
  type ChatMessage,
  createSseParser,
  encodeSseEvent,
  encodeSsePreamble,
  type ParsedSseEvent,
  SSE_EVENTS,
  SSE_HEARTBEAT,
} from '@switchyard/protocol';

function parseAll(chunks: string[]): { events: ParsedSseEvent[]; comments: string[]; retries: number[] } {
  const events: ParsedSseEvent[] = [];
  const comments: string[] = [];
  const retries: number[] = [];
  const parse = createSseParser({
    onEvent: (event) => events.push(event),
    onComment: (comment) => comments.push(comment),
    onRetry: (ms) => retries.push(ms),
  });
  for (const chunk of chunks) parse(chunk);
  return { events, comments, retries };
}

const message: ChatMessage = {
  id: '000000000042',
  room: 'lobby',
  text: 'two\nlines and a \r carriage return',
  author: { id: 'ada', name: 'Ada' },
  sentAt: '2025-01-01T00:00:00.000Z',
};

describe('the SSE wire', () => {
  it('reads back what the gateway writes: name, one line of JSON data, and the id of messages only', () => {
    const wire =
      encodeSsePreamble(2000) +
      encodeSseEvent('message:new', message, message.id) +
      SSE_HEARTBEAT +
      encodeSseEvent('gap', { lastEventId: '1', oldestAvailableId: '5' });
    const { events, comments, retries } = parseAll([wire]);
    expect(retries).toEqual([2000]);
    expect(comments).toEqual(['connected', 'heartbeat']);
    expect(events).toEqual([
      { event: 'message:new', data: JSON.stringify(message), id: message.id },
      { event: 'gap', data: '{"lastEventId":"1","oldestAvailableId":"5"}', id: undefined },
    ]);
    expect(JSON.parse(events[0]?.data ?? '')).toEqual(message);
  });

  it('leaves out an id that would break the framing', () => {
    expect(encodeSseEvent('message:new', message, 'a\nid: forged')).not.toContain('id:');
  });

  it('parses events split anywhere, CRLF split between chunks included, and every line ending', () => {
    const wire = 'event: typing\r\ndata: {"a":1}\r\n\r\nevent: presence:diff\rdata: x\rdata: y\r\r: c\n\n';
    const oneByOne = parseAll([...wire]);
    const whole = parseAll([wire]);
    expect(oneByOne).toEqual(whole);
    expect(whole.events).toEqual([
      { event: 'typing', data: '{"a":1}', id: undefined },
      { event: 'presence:diff', data: 'x\ny', id: undefined },
    ]);
  });

  it('dispatches nothing for a block without data, and names an unnamed event "message"', () => {
    expect(parseAll(['event: lonely\n\ndata: plain\n\n']).events).toEqual([
      { event: 'message', data: 'plain', id: undefined },
    ]);
  });

  it('lists the room events first, then the stream’s own', () => {
    expect(SSE_EVENTS).toEqual([
      'message:new',
      'presence:diff',
      'presence:count',
      'typing',
      'gap',
      'error',
      'server:shutdown',
    ]);
  });
});
