import type { Socket } from 'node:net';
import type { Document } from 'bson';
import { dispatch } from './dispatch.js';
import type { ReplicaSetMember } from './member.js';
import { isPlainObject } from './query/values.js';
import { decodeRequest, encodeMsgReply, encodeQueryReply, FramingError, MessageFramer, OpCode } from './wire.js';

let uidSeq = 0;
const TRACE = (globalThis as { __standinTrace?: { records: Array<{ done: number; kind: string; conn: number; req: number; cmd: string | undefined; t: number; replied: number; mtc: boolean; destroyedBefore: boolean }>; closes: Map<number, number> } }).__standinTrace;

/**
 * One client connection: frames bytes into messages and answers them strictly in order (drivers send one
 * command at a time per connection; a waiting getMore holds its connection, as with mongod).
 */
export class ClientConnection {
  private readonly framer = new MessageFramer();
  private readonly aborter = new AbortController();
  private queue: Promise<void> = Promise.resolve();
  private appName: string | undefined;
  private readonly uid = ++uidSeq;

  constructor(
    readonly id: number,
    private readonly socket: Socket,
    private readonly member: ReplicaSetMember,
    onClose: () => void,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => {
      // A reset by the peer is an ordinary way for a test client to leave; 'close' follows.
    });
    socket.on('close', () => {
      TRACE?.closes.set(this.uid, Date.now());
      this.aborter.abort();
      onClose();
    });
  }

  /** Closes the socket now; in-flight commands are abandoned without reply. */
  destroy(): void {
    this.aborter.abort();
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    let frames: Buffer[];
    try {
      frames = this.framer.push(chunk);
    } catch (err) {
      if (!(err instanceof FramingError)) throw err;
      this.member.counters.malformedMessages += 1;
      this.destroy();
      return;
    }
    for (const frame of frames) {
      this.queue = this.queue.then(() => this.process(frame));
    }
  }

  private async process(frame: Buffer): Promise<void> {
    if (this.socket.destroyed) return;
    const request = decodeRequest(frame);
    if (request.kind === 'invalid') {
      this.member.counters.malformedMessages += 1;
      if (request.opCode !== OpCode.MSG && request.opCode !== OpCode.QUERY) {
        this.destroy(); // mongod closes connections that speak opcodes it does not accept
        return;
      }
      const code = /BSON/i.test(request.reason) ? 22 : 9;
      const error = {
        ok: 0,
        errmsg: `invalid message: ${request.reason}`,
        code,
        codeName: code === 22 ? 'InvalidBSON' : 'FailedToParse',
      };
      this.write(
        request.opCode === OpCode.MSG
          ? encodeMsgReply(request.requestId, error)
          : encodeQueryReply(request.requestId, error),
      );
      return;
    }
    let body: Document;
    let db: string;
    if (request.kind === 'query') {
      const [prefix] = request.fullCollectionName.split('.$cmd');
      if (!request.fullCollectionName.endsWith('.$cmd')) {
        this.write(
          encodeQueryReply(request.requestId, {
            ok: 0,
            errmsg: 'legacy OP_QUERY is only supported for commands',
            code: 352,
            codeName: 'UnsupportedOpQueryCommand',
          }),
        );
        return;
      }
      db = prefix ?? 'admin';
      body = isPlainObject(request.query.$query) ? request.query.$query : request.query;
    } else {
      body = request.body;
      db = typeof body.$db === 'string' ? body.$db : '';
    }
    this.captureAppName(body);
    const rec = { conn: this.uid, done: 0, kind: '', req: request.requestId, cmd: Object.keys(body)[0], t: Date.now(), replied: 0, mtc: request.kind === 'msg' && request.moreToCome, destroyedBefore: this.socket.destroyed };
    TRACE?.records.push(rec);
    const result = await dispatch(body, db, this.member, {
      id: this.id,
      signal: this.aborter.signal,
      appName: this.appName,
    });
    rec.done = Date.now(); rec.kind = Object.keys(result)[0]!;
    if ('close' in result) {
      this.member.counters.connectionsDropped += 1;
      this.destroy();
      return;
    }
    if ('noReply' in result || (request.kind === 'msg' && request.moreToCome)) return;
    if (!this.socket.destroyed && this.socket.writable) rec.replied = Date.now();
    this.write(
      request.kind === 'query'
        ? encodeQueryReply(request.requestId, result.reply)
        : encodeMsgReply(request.requestId, result.reply),
    );
  }

  private captureAppName(body: Document): void {
    const client = body.client;
    if (isPlainObject(client) && isPlainObject(client.application) && typeof client.application.name === 'string') {
      this.appName = client.application.name;
    }
  }

  private write(bytes: Buffer): void {
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(bytes);
  }
}
