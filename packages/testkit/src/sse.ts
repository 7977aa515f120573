import { createSseParser, type ParsedSseEvent } from '@switchyard/protocol';
import { waitFor } from './wait-for.js';

/*
 * A real SSE client over fetch: it keeps every parsed event, comment and `retry:` of one response
 * (read with the protocol's parser, as the SDK does), so tests can assert on the wire format itself.
 */

export interface OpenedStream {
  response: Response;
  events: ParsedSseEvent[];
  comments: string[];
  retries: number[];
  /** Resolves when the server ends the stream (or it is aborted). */
  ended: Promise<void>;
  close(): void;
  /** Events of one name with their JSON data parsed. */
  dataOf<T = unknown>(event: string): T[];
  /** Waits until `count` events of that name arrived. */
  waitForEvents<T = unknown>(event: string, count: number): Promise<T[]>;
}

const open = new Set<AbortController>();

export async function openStream(url: string, headers: Record<string, string> = {}): Promise<OpenedStream> {
  const abort = new AbortController();
  open.add(abort);
  const response = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: abort.signal });
  const events: ParsedSseEvent[] = [];
  const comments: string[] = [];
  const retries: number[] = [];
  const parse = createSseParser({
    onEvent: (event) => events.push(event),
    onComment: (comment) => comments.push(comment),
    onRetry: (ms) => retries.push(ms),
  });
  const ended = (async () => {
    if (response.body === null) return;
    const decoder = new TextDecoder();
    const reader = response.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        parse(decoder.decode(value, { stream: true }));
      }
    } catch {
      // aborted
    }
  })();
  const dataOf = <T>(event: string): T[] => events.filter((e) => e.event === event).map((e) => JSON.parse(e.data) as T);
  return {
    response,
    events,
    comments,
    retries,
    ended,
    close: () => {
      abort.abort();
      open.delete(abort);
    },
    dataOf,
    waitForEvents: async <T>(event: string, count: number) => {
      await waitFor(`${count} ${event} events (have ${dataOf(event).length})`, () => dataOf(event).length >= count);
      return dataOf<T>(event);
    },
  };
}

/** A JSON error answer (status and body) of a refused stream. */
export async function refusal(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: { code: string; message: string } }> {
  const response = await fetch(url, { headers: { accept: 'text/event-stream', ...headers } });
  const type = response.headers.get('content-type') ?? '';
  if (!type.startsWith('application/json')) throw new Error(`expected a JSON answer, got ${response.status} ${type}`);
  return { status: response.status, body: (await response.json()) as { code: string; message: string } };
}

export function closeStreams(): void {
  for (const abort of open) abort.abort();
  open.clear();
}
