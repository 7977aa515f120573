import WebSocket from 'ws';

/**
 * A minimal Socket.IO client speaking the wire protocol (Engine.IO v4 over WebSocket, default namespace)
 * directly on `ws`. A thousand `socket.io-client` instances would make the load generator the bottleneck
 * of a fan-out benchmark; this one leaves frames as Buffers and parses only what a workload asks for,
 * so the server saturates first. Idle-memory and latency scenarios that need the real client use it.
 */
export interface RawConnectOptions {
  /** `http://host:port` of the server. */
  url: string;
  /** The `auth` object of the handshake (`{ name }`, `{ token }`, or `{}`). */
  auth: Record<string, unknown>;
  timeoutMs?: number;
}

const CHAR_0 = 0x30;
const ENGINE_PING = 0x32; // '2'
const ENGINE_MESSAGE = 0x34; // '4'
const SIO_CONNECT = 0x30; // '0'
const SIO_EVENT = 0x32; // '2'
const SIO_ACK = 0x33; // '3'
const SIO_CONNECT_ERROR = 0x34; // '4'

export class RawSocketIoClient {
  private readonly ws: WebSocket;
  private nextAckId = 1;
  private readonly acks = new Map<number, (payload: string) => void>();
  /** Called with the whole frame (`42[...]`) of every event the server emits. */
  onEvent: (frame: Buffer) => void = () => {};
  /** Called with the frame of every ack nobody is waiting for (fire-and-forget emits). */
  onUnclaimedAck: (frame: Buffer) => void = () => {};
  closed = false;

  private constructor(ws: WebSocket) {
    this.ws = ws;
  }

  static connect(options: RawConnectOptions): Promise<RawSocketIoClient> {
    const endpoint = `${options.url.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`;
    const ws = new WebSocket(endpoint, { perMessageDeflate: false, skipUTF8Validation: true });
    const client = new RawSocketIoClient(ws);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        fail(new Error(`socket.io handshake timed out after ${options.timeoutMs ?? 20_000} ms`));
      }, options.timeoutMs ?? 20_000);
      let settled = false;
      const fail = (error: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        ws.terminate();
        reject(error);
      };
      ws.on('error', (error) => fail(error));
      ws.on('close', () => {
        client.closed = true;
        fail(new Error('connection closed during the handshake'));
      });
      ws.on('message', (data: Buffer) => {
        const engineType = data[0];
        if (engineType === ENGINE_PING) {
          ws.send('3');
          return;
        }
        if (engineType === CHAR_0) {
          // Engine.IO open: connect to the default namespace with the auth object.
          ws.send(`40${JSON.stringify(options.auth)}`);
          return;
        }
        if (engineType !== ENGINE_MESSAGE) return;
        const packetType = data[1];
        if (packetType === SIO_EVENT) client.onEvent(data);
        else if (packetType === SIO_ACK) client.dispatchAck(data);
        else if (packetType === SIO_CONNECT && !settled) {
          settled = true;
          clearTimeout(timer);
          resolve(client);
        } else if (packetType === SIO_CONNECT_ERROR) {
          fail(new Error(`connect_error: ${data.subarray(2).toString()}`));
        }
      });
    });
  }

  private dispatchAck(frame: Buffer): void {
    // `43<id>[...]`: the id runs up to the `[`.
    let id = 0;
    let index = 2;
    for (; index < frame.length; index++) {
      const code = frame[index]!;
      if (code < CHAR_0 || code > CHAR_0 + 9) break;
      id = id * 10 + (code - CHAR_0);
    }
    const waiter = this.acks.get(id);
    if (!waiter) {
      this.onUnclaimedAck(frame);
      return;
    }
    this.acks.delete(id);
    waiter(frame.subarray(index).toString());
  }

  /** Emits with an ack id and resolves with the ack's arguments (parsed). */
  emitWithAck<T = unknown>(event: string, payload: unknown, timeoutMs = 20_000): Promise<T> {
    const id = this.nextAckId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.acks.delete(id);
        reject(new Error(`no ack for ${event} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.acks.set(id, (args) => {
        clearTimeout(timer);
        resolve((JSON.parse(args) as unknown[])[0] as T);
      });
      this.ws.send(`42${id}${JSON.stringify([event, payload])}`);
    });
  }

  /** Emits with an ack id whose answer goes to `onUnclaimedAck` (the server may require an ack callback). */
  emitUnclaimed(event: string, payload: unknown): void {
    this.ws.send(`42${this.nextAckId++}${JSON.stringify([event, payload])}`);
  }

  /** Sends an already-encoded event frame body (`["event",{...}]`) with a fresh ack id. */
  sendEncodedUnclaimed(encodedArgs: string): void {
    this.ws.send(`42${this.nextAckId++}${encodedArgs}`);
  }

  /** Sends an already-encoded event frame body without an ack id: the server answers nothing. */
  sendEncodedWithoutAck(encodedArgs: string): void {
    this.ws.send(`42${encodedArgs}`);
  }

  close(): void {
    this.closed = true;
    this.ws.close();
  }

  terminate(): void {
    this.closed = true;
    this.ws.terminate();
  }

  /** Resolves once the socket is closed (after `close()`). */
  whenClosed(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => this.ws.once('close', () => resolve()));
  }
}
