import WebSocket from 'ws';
import { withDeadline } from './wait-for.js';

/*
 * A Socket.IO client written on `ws`, frame by frame (Engine.IO v4, Socket.IO v5, main namespace):
 * what a test needs when it must control the connection itself, e.g. stop reading (`pause()`: the
 * TCP socket is no longer read, so the server's writes back up, as with a phone in a tunnel) and
 * later read what arrived. Every event is kept, in order.
 */

export interface RawEvent {
  event: string;
  /** Undefined unless `keep` said to keep it. */
  payload: unknown;
}

export interface RawSocketOptions {
  /** Which events' payloads to keep (default: all); the others are recorded by name only, to spare memory. */
  keep?: (event: string) => boolean;
}

export interface RawSocket {
  /** Events received so far, in order. */
  readonly events: RawEvent[];
  /** Resolves with the WebSocket close code once the connection is closed. */
  readonly closed: Promise<number>;
  /** Emits an event with an ack and resolves with the ack's first argument. */
  request<T = unknown>(event: string, payload: unknown): Promise<T>;
  /** Stops reading from the TCP socket: the server's writes back up in the kernel, then in the server. */
  pause(): void;
  /** Reads again. */
  resume(): void;
  close(): void;
}

const open = new Set<WebSocket>();

export async function rawSocket(
  url: string,
  auth: Record<string, unknown> = {},
  { keep = () => true }: RawSocketOptions = {},
): Promise<RawSocket> {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`, {
    perMessageDeflate: false,
  });
  open.add(ws);
  const events: RawEvent[] = [];
  const acks = new Map<number, (args: unknown[]) => void>();
  let nextAck = 0;
  const closed = new Promise<number>((resolve) =>
    ws.once('close', (code) => {
      open.delete(ws);
      resolve(code);
    }),
  );
  const connected = withDeadline<void>('raw socket to connect', (resolve, reject) => {
    ws.once('error', reject);
    ws.on('message', (data: Buffer) => {
      const frame = data.toString();
      if (frame.startsWith('0')) ws.send(`40${JSON.stringify(auth)}`);
      else if (frame === '2') ws.send('3');
      else if (frame.startsWith('40')) resolve();
      else if (frame.startsWith('44')) reject(new Error(`connect refused: ${frame.slice(2)}`));
      else if (frame.startsWith('42')) {
        const [event, payload] = JSON.parse(frame.slice(2)) as [string, unknown];
        events.push({ event, payload: keep(event) ? payload : undefined });
      } else if (frame.startsWith('43')) {
        const id = Number(/^43(\d+)/.exec(frame)?.[1]);
        const args = JSON.parse(frame.slice(2 + String(id).length)) as unknown[];
        acks.get(id)?.(args);
        acks.delete(id);
      }
    });
  });
  await connected;
  return {
    events,
    closed,
    request: <T>(event: string, payload: unknown) =>
      withDeadline<T>(`ack of ${event}`, (resolve) => {
        const id = nextAck++;
        acks.set(id, (args) => resolve(args[0] as T));
        ws.send(`42${id}${JSON.stringify([event, payload])}`);
      }),
    pause: () => ws.pause(),
    resume: () => ws.resume(),
    close: () => ws.terminate(),
  };
}

export function closeRawSockets(): void {
  for (const ws of open) ws.terminate();
  open.clear();
}
