import { connect, type Socket } from 'node:net';
import { BSON, type Document } from 'bson';
import { expect } from 'vitest';

/** How a raw connection ended, as the client saw it: an orderly close (FIN) or a socket error. */
export type RawEnding = { by: 'end' } | { by: 'error'; code: string | undefined };

/** A bare wire-protocol client: enough to send hand-made (and broken) frames, and to see how it was closed. */
export class RawClient {
  private buffer = Buffer.alloc(0);
  private waiting: Array<(frame: Buffer) => void> = [];
  closed = false;
  /** Set when the connection ends; the first of 'end' (orderly close) or 'error' wins. */
  ending: RawEnding | undefined;
  /** Resolves once the socket has closed. */
  readonly whenClosed: Promise<void>;
  framesReceived = 0;
  private requestId = 1;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      while (this.buffer.length >= 4 && this.buffer.length >= this.buffer.readInt32LE(0)) {
        const length = this.buffer.readInt32LE(0);
        const frame = this.buffer.subarray(0, length);
        this.buffer = this.buffer.subarray(length);
        this.framesReceived += 1;
        this.waiting.shift()?.(frame);
      }
    });
    socket.on('end', () => (this.ending ??= { by: 'end' }));
    socket.on('error', (err: NodeJS.ErrnoException) => (this.ending ??= { by: 'error', code: err.code }));
    this.whenClosed = new Promise((resolve) =>
      socket.on('close', () => {
        this.closed = true;
        resolve();
      }),
    );
  }

  static async open(port: number, host = '127.0.0.1'): Promise<RawClient> {
    const socket = connect(port, host);
    await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    return new RawClient(socket);
  }

  sendRaw(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  private nextFrame(): Promise<Buffer> {
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** An OP_MSG frame with a body section and, optionally, one document sequence. */
  msgFrame(body: Document, sequence?: { id: string; docs: Document[] }): Buffer {
    const sections: Buffer[] = [Buffer.from([0]), Buffer.from(BSON.serialize(body))];
    if (sequence) {
      const docs = Buffer.concat(sequence.docs.map((d) => Buffer.from(BSON.serialize(d))));
      const id = Buffer.from(`${sequence.id}\0`);
      const size = Buffer.alloc(4);
      size.writeInt32LE(4 + id.length + docs.length);
      sections.push(Buffer.from([1]), size, id, docs);
    }
    return this.frame(2013, Buffer.concat([Buffer.alloc(4), ...sections]));
  }

  async msg(body: Document, sequence?: { id: string; docs: Document[] }): Promise<Document> {
    const reply = this.nextFrame();
    this.sendRaw(this.msgFrame(body, sequence));
    const bytes = await reply;
    expect(bytes.readInt32LE(12)).toBe(2013);
    return BSON.deserialize(bytes.subarray(21));
  }

  async legacyQuery(collection: string, query: Document): Promise<Document> {
    const name = Buffer.from(`${collection}\0`);
    const skipReturn = Buffer.alloc(8);
    skipReturn.writeInt32LE(-1, 4);
    const frame = this.frame(
      2004,
      Buffer.concat([Buffer.alloc(4), name, skipReturn, Buffer.from(BSON.serialize(query))]),
    );
    const reply = this.nextFrame();
    this.sendRaw(frame);
    const bytes = await reply;
    expect(bytes.readInt32LE(12)).toBe(1); // OP_REPLY
    return BSON.deserialize(bytes.subarray(36));
  }

  frame(opCode: number, payload: Buffer): Buffer {
    const header = Buffer.alloc(16);
    header.writeInt32LE(16 + payload.length, 0);
    header.writeInt32LE(this.requestId++, 4);
    header.writeInt32LE(opCode, 12);
    return Buffer.concat([header, payload]);
  }

  /** The next OP_MSG reply, whatever request it answers. */
  async reply(): Promise<Document> {
    const bytes = await this.nextFrame();
    return BSON.deserialize(bytes.subarray(21));
  }

  close(): void {
    this.socket.destroy();
  }
}
