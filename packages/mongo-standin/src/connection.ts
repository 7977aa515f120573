import type { Socket } from 'node:net';
import type { Document } from 'bson';
import { dispatch } from './dispatch.js';
import type { ReplicaSetMember } from './member.js';
import { isPlainObject } from './query/values.js';
import {
  decodeRequest,
  encodeMsgReply,
  encodeQueryReply,
  FramingError,
  MessageFramer,
  OpCode,
  requestIdOf,
} from './wire.js';

/** A client that streams unacknowledged writes to a member that is not primary is disconnected (mongod 4.2+). */
const NOT_PRIMARY_CODES = new Set([10107, 13435]);

/**
 * One client connection: frames bytes into messages and answers them strictly in order (drivers send one
 * command at a time per connection; a waiting getMore holds its connection, as with mongod).
 */
export class ClientConnection {
  private readonly framer = new MessageFramer();
  private readonly aborter = new AbortController();
  private queue: Promise<void> = Promise.resolve();
  private appName: string | undefined;
  /** Dropped: nothing more is read or answered, and the socket is about to be reset. */
  private dropped = false;
  /** Resolves once the socket has closed. */
  readonly whenClosed: Promise<void>;

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
    this.whenClosed = new Promise((resolve) =>
      socket.on('close', () => {
        this.aborter.abort();
        onClose();
        resolve();
      }),
    );
  }

  /**
   * Drops the connection as a network failure does: nothing more is read or answered (in-flight commands
   * finish without a reply) and the client gets a TCP reset, so it sees ECONNRESET — a network error the
   * driver retries or resumes on — rather than an orderly close. Returns false when already dropped.
   *
   * Why a reset: after an orderly close (FIN) the official driver (7.x) learns of the closed socket only
   * from its 'close' event, and a command it writes between the socket being destroyed and 'close' waits
   * for a 'drain' that never comes: the operation never settles.
   */
  drop(): boolean {
    if (this.dropped) return false;
    this.dropped = true;
    this.aborter.abort();
    this.socket.pause();
    // Two event-loop turns later, so a client in this process first reads every reply already sent: a
    // reset that arrives together with unread bytes is reported by libuv as an orderly EOF, not an error.
    setImmediate(() =>
      setImmediate(() => {
        if (!this.socket.destroyed) this.socket.resetAndDestroy();
      }),
    );
    return true;
  }

  private onData(chunk: Buffer): void {
    if (this.dropped) return;
    let frames: Buffer[];
    try {
      frames = this.framer.push(chunk);
    } catch (err) {
      if (!(err instanceof FramingError)) throw err;
      this.member.counters.malformedMessages += 1;
      this.drop();
      return;
    }
    for (const frame of frames) {
      this.queue = this.queue
        .then(() => this.process(frame))
        // A failure the command layer did not turn into a reply must not leave the client waiting forever.
        .catch(() => void this.drop());
    }
  }

  private async process(frame: Buffer): Promise<void> {
    if (this.dropped) return;
    const request = decodeRequest(frame);
    if (request.kind === 'invalid') {
      this.member.counters.malformedMessages += 1;
      if (request.opCode !== OpCode.MSG && request.opCode !== OpCode.QUERY) {
        this.drop(); // mongod closes connections that speak opcodes it does not accept
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
    const result = await dispatch(body, db, this.member, {
      id: this.id,
      signal: this.aborter.signal,
      appName: this.appName,
    });
    if ('close' in result) {
      if (this.drop()) this.member.counters.connectionsDropped += 1;
      return;
    }
    if (request.kind === 'msg' && request.moreToCome) {
      // No reply can tell the client its w:0 write was refused, so mongod closes the connection instead.
      if ('reply' in result && NOT_PRIMARY_CODES.has(result.reply.code as number) && this.drop()) {
        this.member.counters.connectionsDropped += 1;
      }
      return;
    }
    if ('noReply' in result) return;
    if (request.kind === 'msg' && request.exhaustAllowed && isAwaitableHello(body) && result.reply.ok === 1) {
      await this.streamHellos(request.requestId, body, result.reply);
      return;
    }
    this.write(
      request.kind === 'query'
        ? encodeQueryReply(request.requestId, result.reply)
        : encodeMsgReply(request.requestId, result.reply),
    );
  }

  /**
   * The streaming hello of the server-monitoring spec: each reply carries moreToCome, and the next one is sent
   * when the member's topology version changes or `maxAwaitTimeMS` passes, until the connection goes away.
   */
  private async streamHellos(requestId: number, body: Document, first: Document): Promise<void> {
    let responseTo = requestId;
    let reply = first;
    for (;;) {
      if (this.dropped || this.socket.destroyed) return;
      const message = encodeMsgReply(responseTo, reply, true);
      this.write(message);
      responseTo = requestIdOf(message);
      const db = typeof body.$db === 'string' ? body.$db : 'admin';
      const next = await dispatch({ ...body, topologyVersion: reply.topologyVersion }, db, this.member, {
        id: this.id,
        signal: this.aborter.signal,
        appName: this.appName,
      });
      if (!('reply' in next) || next.reply.ok !== 1) {
        // An error ends the stream (sent without moreToCome, as the spec requires).
        if ('reply' in next) this.write(encodeMsgReply(responseTo, next.reply));
        return;
      }
      reply = next.reply;
    }
  }

  private captureAppName(body: Document): void {
    const client = body.client;
    if (isPlainObject(client) && isPlainObject(client.application) && typeof client.application.name === 'string') {
      this.appName = client.application.name;
    }
  }

  /** A dropped connection answers nothing more, even a command that was already running when it dropped. */
  private write(bytes: Buffer): void {
    if (!this.dropped && !this.socket.destroyed && this.socket.writable) this.socket.write(bytes);
  }
}

function isAwaitableHello(body: Document): boolean {
  const name = Object.keys(body)[0];
  return (name === 'hello' || name === 'isMaster' || name === 'ismaster') && body.maxAwaitTimeMS !== undefined;
}
