import http from 'node:http';

export interface SseSubscribeOptions {
  /** `http://host:port` of the gateway. */
  url: string;
  room: string;
  /** Sent as `Authorization: Bearer`, when given. */
  token?: string;
  timeoutMs?: number;
  /** Every raw chunk of the stream, from the first (which may come with the response head). */
  onChunk?: (chunk: Buffer) => void;
}

/** An open `text/event-stream` response; `close()` ends it. */
export interface SseSubscription {
  close(): void;
}

/**
 * Subscribes to a room's Server-Sent Events with plain `http` (no parser: the workloads scan the raw
 * chunks for their markers). Resolves once the gateway has answered 200 with `text/event-stream`;
 * anything else rejects with the status and the start of the body.
 */
export function subscribeSse(options: SseSubscribeOptions): Promise<SseSubscription> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    const request = http.get(`${options.url}/v1/rooms/${encodeURIComponent(options.room)}/events`, {
      headers,
      agent: false,
    });
    const timer = setTimeout(
      () => request.destroy(new Error(`no SSE response within ${options.timeoutMs ?? 20_000} ms`)),
      options.timeoutMs ?? 20_000,
    );
    request.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    request.once('response', (response) => {
      clearTimeout(timer);
      const type = String(response.headers['content-type'] ?? '');
      if (response.statusCode !== 200 || !type.startsWith('text/event-stream')) {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (text: string) => (body = (body + text).slice(0, 300)));
        response.once('end', () => reject(new Error(`SSE subscribe answered ${response.statusCode} ${type}: ${body}`)));
        return;
      }
      const onChunk = options.onChunk ?? (() => {});
      response.on('data', (chunk: Buffer) => onChunk(chunk));
      // A stream the server ends is just closed; the workloads notice missing deliveries.
      response.on('error', () => {});
      resolve({ close: () => request.destroy() });
    });
  });
}
