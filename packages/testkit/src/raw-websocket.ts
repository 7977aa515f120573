import { randomBytes } from 'node:crypto';
import { connect as tcpConnect, type Socket } from 'node:net';
import { withDeadline } from './wait-for.js';

/*
 * A WebSocket client written at the byte level, for what socket.io-client never does: stop reading
 * (a phone that dropped off the network), never complete the Socket.IO connect, or send Engine.IO
 * frames of any content. It speaks RFC 6455 just enough: the upgrade, masked text and binary frames
 * out, unfragmented frames in.
 */

export interface RawWebSocket {
  /** Text (and binary, as latin1) payloads of the frames received so far. */
  readonly received: string[];
  /** Whether the server closed the TCP connection. */
  readonly closed: boolean;
  /** Resolves when the TCP connection is closed (by either side). */
  readonly ended: Promise<void>;
  /** Resolves when the server sends a close frame (answered at once, as RFC 6455 asks, while reading). */
  readonly closedByServer: Promise<void>;
  sendText(text: string): void;
  sendBinary(bytes: Uint8Array): void;
  /** Waits for a received frame that satisfies `match`. */
  nextFrame(match: (payload: string) => boolean): Promise<string>;
  /** Stops reading: bytes the server sends pile up in the kernel, as with a client that hung. */
  stopReading(): void;
  destroy(): void;
}

const OPCODE_TEXT = 0x1;
const OPCODE_BINARY = 0x2;
const OPCODE_CLOSE = 0x8;

/** Opens `ws://host:port<path>` (an Engine.IO URL such as `/socket.io/?EIO=4&transport=websocket`). */
export async function openRawWebSocket(baseUrl: string, path: string): Promise<RawWebSocket> {
  const { hostname, port } = new URL(baseUrl);
  const socket = tcpConnect({ host: hostname, port: Number(port) });
  socket.on('error', () => undefined); // a reset is what some tests cause on purpose
  const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const key = randomBytes(16).toString('base64');
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.write(
    [
      `GET ${path} HTTP/1.1`,
      `Host: ${hostname}:${port}`,
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Key: ${key}`,
      'Sec-WebSocket-Version: 13',
      '',
      '',
    ].join('\r\n'),
  );
  const received: string[] = [];
  const waiters = new Set<{ match: (payload: string) => boolean; resolve: (payload: string) => void }>();
  let buffer: Buffer = Buffer.alloc(0);
  let upgraded = false;
  let closed = false;
  let serverClosed: () => void = () => undefined;
  const closedByServer = new Promise<void>((resolve) => (serverClosed = resolve));
  void ended.then(() => (closed = true));

  const upgrade = withDeadline<void>('the WebSocket upgrade', (resolve, reject) => {
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      if (!upgraded) {
        const end = buffer.indexOf('\r\n\r\n');
        if (end === -1) return;
        const head = buffer.subarray(0, end).toString('latin1');
        if (!head.startsWith('HTTP/1.1 101')) return reject(new Error(`upgrade refused: ${head.split('\r\n')[0]}`));
        upgraded = true;
        buffer = buffer.subarray(end + 4);
        resolve();
      }
      for (let frame = readFrame(buffer); frame !== undefined; frame = readFrame(buffer)) {
        buffer = buffer.subarray(frame.length);
        if (frame.opcode === OPCODE_CLOSE) {
          if (socket.writable) socket.end(encodeFrame(OPCODE_CLOSE, Buffer.alloc(0)));
          serverClosed();
          continue;
        }
        if (frame.opcode !== OPCODE_TEXT && frame.opcode !== OPCODE_BINARY) continue;
        received.push(frame.payload);
        for (const waiter of [...waiters]) {
          if (!waiter.match(frame.payload)) continue;
          waiters.delete(waiter);
          waiter.resolve(frame.payload);
        }
      }
    });
    socket.once('close', () => reject(new Error('closed before the upgrade')));
  });
  await upgrade;

  const send = (opcode: number, payload: Buffer): void => {
    if (!socket.writable) return;
    socket.write(encodeFrame(opcode, payload));
  };
  return {
    received,
    get closed() {
      return closed;
    },
    ended,
    closedByServer,
    sendText: (text) => send(OPCODE_TEXT, Buffer.from(text, 'utf8')),
    sendBinary: (bytes) => send(OPCODE_BINARY, Buffer.from(bytes)),
    nextFrame: (match) =>
      withDeadline('a WebSocket frame', (resolve) => {
        const already = received.find(match);
        if (already !== undefined) return resolve(already);
        waiters.add({ match, resolve });
      }),
    stopReading: () => socket.pause(),
    destroy: () => socket.destroy(),
  };
}

/** A client frame: FIN, the opcode, masked as RFC 6455 requires of clients. */
function encodeFrame(opcode: number, payload: Buffer): Buffer {
  const mask = randomBytes(4);
  const length = payload.length;
  const header =
    length < 126
      ? Buffer.from([0x80 | opcode, 0x80 | length])
      : length < 65_536
        ? Buffer.from([0x80 | opcode, 0x80 | 126, length >> 8, length & 0xff])
        : Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | 127]), bigEndian64(length)]);
  const masked = Buffer.alloc(length);
  for (let i = 0; i < length; i += 1) masked[i] = (payload[i] as number) ^ (mask[i % 4] as number);
  return Buffer.concat([header, mask, masked]);
}

function bigEndian64(value: number): Buffer {
  const bytes = Buffer.alloc(8);
  bytes.writeBigUInt64BE(BigInt(value));
  return bytes;
}

/** One unmasked server frame at the start of `buffer`, or undefined until it is complete. */
function readFrame(buffer: Buffer): { opcode: number; payload: string; length: number } | undefined {
  if (buffer.length < 2) return undefined;
  const opcode = (buffer[0] as number) & 0x0f;
  let length = (buffer[1] as number) & 0x7f;
  let offset = 2;
  if (length === 126) {
    if (buffer.length < 4) return undefined;
    length = buffer.readUInt16BE(2);
    offset = 4;
  } else if (length === 127) {
    if (buffer.length < 10) return undefined;
    length = Number(buffer.readBigUInt64BE(2));
    offset = 10;
  }
  if (buffer.length < offset + length) return undefined;
  const bytes = buffer.subarray(offset, offset + length);
  return {
    opcode,
    payload: opcode === OPCODE_TEXT ? bytes.toString('utf8') : bytes.toString('latin1'),
    length: offset + length,
  };
}
