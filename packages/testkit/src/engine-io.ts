import WebSocket from 'ws';
import { withDeadline } from './wait-for.js';

/*
 * Engine.IO (v4) spoken by hand: a session opened on one node and used on another, which no
 * socket.io-client can be told to do. Packets are the wire's own strings (`40` = Socket.IO connect,
 * `421["room:join",…]` = an event with ack id 1, `2probe`/`3probe`/`5` = the upgrade dance).
 */

const PATH = '/socket.io/';
/** Engine.IO v4 separates the packets of one polling payload with a record separator. */
const SEPARATOR = '\x1e';

export interface RawAnswer {
  status: number;
  body: string;
  headers: Headers;
}

function pollingUrl(base: string, sid?: string): string {
  const query = new URLSearchParams({ EIO: '4', transport: 'polling', t: String(Date.now()) });
  if (sid !== undefined) query.set('sid', sid);
  return `${base}${PATH}?${query}`;
}

async function answer(response: Response): Promise<RawAnswer> {
  return { status: response.status, body: await response.text(), headers: response.headers };
}

/** Opens an Engine.IO session over polling; resolves with its id. */
export async function engineOpen(base: string, headers: Record<string, string> = {}): Promise<string> {
  const opened = await engineRequest(pollingUrl(base), { headers });
  if (opened.status !== 200 || !opened.body.startsWith('0'))
    throw new Error(`handshake failed: ${opened.status} ${opened.body}`);
  return (JSON.parse(opened.body.slice(1)) as { sid: string }).sid;
}

/** A raw handshake request (GET without sid): what admission control answers. */
export function engineHandshake(base: string, headers: Record<string, string> = {}): Promise<RawAnswer> {
  return engineRequest(pollingUrl(base), { headers });
}

/** POSTs packets of a session to `base` (any node). */
export function enginePost(
  base: string,
  sid: string,
  packets: string[],
  headers: Record<string, string> = {},
): Promise<RawAnswer> {
  return engineRequest(pollingUrl(base, sid), {
    method: 'POST',
    body: packets.join(SEPARATOR),
    headers: { 'content-type': 'text/plain;charset=UTF-8', ...headers },
  });
}

/** One long-poll GET of a session at `base` (any node): its packets, split. */
export async function enginePoll(
  base: string,
  sid: string,
  headers: Record<string, string> = {},
): Promise<RawAnswer & { packets: string[] }> {
  const polled = await engineRequest(pollingUrl(base, sid), { headers });
  return { ...polled, packets: polled.status === 200 ? polled.body.split(SEPARATOR) : [] };
}

/** Long-polls until a packet matching `match` arrives (pings are answered on the way). */
export async function enginePollUntil(base: string, sid: string, match: (packet: string) => boolean): Promise<string> {
  for (let round = 0; round < 20; round += 1) {
    const polled = await enginePoll(base, sid);
    if (polled.status !== 200) throw new Error(`poll failed: ${polled.status} ${polled.body}`);
    const found = polled.packets.find(match);
    if (found !== undefined) return found;
    if (polled.packets.includes('2')) await enginePost(base, sid, ['3']);
  }
  throw new Error('no matching packet in 20 polls');
}

export async function engineRequest(url: string, init: RequestInit = {}): Promise<RawAnswer> {
  return answer(await fetch(url, { ...init, signal: AbortSignal.timeout(30_000) }));
}

/** A WebSocket to `base` for an existing polling session (the upgrade); resolves once open. */
export function engineUpgrade(
  base: string,
  sid: string,
  headers: Record<string, string> = {},
): Promise<UpgradedSocket> {
  const url = `${base.replace(/^http/, 'ws')}${PATH}?EIO=4&transport=websocket&sid=${encodeURIComponent(sid)}`;
  const socket = new WebSocket(url, { headers });
  const received: string[] = [];
  const waiters: Array<() => void> = [];
  socket.on('message', (data) => {
    received.push(String(data));
    for (const waiter of waiters.splice(0)) waiter();
  });
  const upgraded: UpgradedSocket = {
    socket,
    received,
    send: (packet) => socket.send(packet),
    next: (match) =>
      withDeadline(`a WebSocket packet`, (resolve) => {
        const look = (): void => {
          const index = received.findIndex(match);
          if (index === -1) return void waiters.push(look);
          resolve(received.splice(index, 1)[0] as string);
        };
        look();
      }),
    close: () => socket.close(),
  };
  return withDeadline('the WebSocket upgrade', (resolve, reject) => {
    socket.once('open', () => resolve(upgraded));
    socket.once('unexpected-response', (_request, response) =>
      reject(new Error(`upgrade refused: ${response.statusCode ?? 'no status'}`)),
    );
    socket.once('error', reject);
  });
}

export interface UpgradedSocket {
  socket: WebSocket;
  received: string[];
  send(packet: string): void;
  /** The next received packet matching `match` (taken out of `received`). */
  next(match: (packet: string) => boolean): Promise<string>;
  close(): void;
}
