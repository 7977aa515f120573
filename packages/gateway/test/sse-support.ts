import { createSseParser, type ParsedSseEvent, type SseGap } from '@switchyard/protocol';
import { DEADLINE_MS, waitFor } from './helpers.js';

/*
 * A real SSE client over fetch for tests: it keeps every parsed event, comment and `retry:`
 * of one response (read with the protocol's parser, as the SDK does), so tests can assert on the
 * wire format itself.
 */

export type ParsedEvent = ParsedSseEvent;

export interface OpenedStream {
  response: Response;
  events: ParsedEvent[];
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
  const events: ParsedEvent[] = [];
  const comments: string[] = [];
  const retries: number[] = [];
  const parser = createSseParser({
    onEvent: (e) => events.push(e),
    onComment: (c) => comments.push(c),
    onRetry: (r) => retries.push(r),
  });
  const ended = (async () => {
    if (response.body === null) return;
    const decoder = new TextDecoder();
    const reader = response.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        parser(decoder.decode(value, { stream: true }));
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
      await waitFor(
        `${count} ${event} events (have ${dataOf(event).length})`,
        () => dataOf(event).length >= count,
        DEADLINE_MS,
      );
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
  expectJson(response);
  return { status: response.status, body: (await response.json()) as { code: string; message: string } };
}

function expectJson(response: Response): void {
  const type = response.headers.get('content-type') ?? '';
  if (!type.startsWith('application/json')) throw new Error(`expected a JSON answer, got ${response.status} ${type}`);
}

export function closeStreams(): void {
  for (const abort of open) abort.abort();
  open.clear();
}

export type GapNoticeData = SseGap;

export const JWT_SECRET = 'sse-test-secret-0123456789-abcdefghij';
export const API_KEY = 'test-api-key-0123456789abcdef';

/** An HS256 token for `sub`, signed with JWT_SECRET. */
export async function tokenFor(
  sub: string,
  claims: Record<string, unknown> = {},
  expiresIn: string | number = '1h',
): Promise<string> {
  const { SignJWT } = await import('jose');
  return new SignJWT({ name: sub, ...claims })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime(expiresIn)
    .sign(new TextEncoder().encode(JWT_SECRET));
}

/** `POST /v1/rooms/:room/messages` with the test API key (unless headers say otherwise). */
export async function publish(
  url: string,
  room: string,
  body: unknown,
  headers: Record<string, string> = { 'x-api-key': API_KEY },
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const response = await fetch(`${url}/v1/rooms/${encodeURIComponent(room)}/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return {
    status: response.status,
    body: (await response.json()) as Record<string, unknown>,
    headers: response.headers,
  };
}

/** One metric's value from the gateway's /metrics (0 when absent). */
export async function metricValue(url: string, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

/** A TCP pass-through to the gateway whose connections a test can cut, like a network would. */
export async function startCutter(targetUrl: string): Promise<{ url: string; cutAll(): void; close(): Promise<void> }> {
  const { createServer, connect: netConnect } = await import('node:net');
  const target = new URL(targetUrl);
  const open = new Set<import('node:net').Socket>();
  const server = createServer((client) => {
    const upstream = netConnect({ host: target.hostname, port: Number(target.port) });
    for (const socket of [client, upstream]) {
      open.add(socket);
      socket.on('close', () => open.delete(socket));
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as import('node:net').AddressInfo;
  const cutAll = (): void => {
    for (const socket of open) socket.destroy();
  };
  return {
    url: `http://127.0.0.1:${port}`,
    cutAll,
    close: async () => {
      cutAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
