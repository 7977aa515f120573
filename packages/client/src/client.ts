import { io, type ManagerOptions, type Socket, type SocketOptions } from 'socket.io-client';
import type {
  ClientToServerEvents,
  DisconnectNotice,
  ErrorBody,
  HandshakeAuth,
  PresenceCount,
  PresenceDiff,
  ServerToClientEvents,
  ShutdownNotice,
} from '@switchyard/protocol';
import type { ConnectionState, StateListener } from './connection-state.js';
import { SwitchyardClientError, fromErrorBody, isClientError } from './errors.js';
import { randomId } from './internal/ids.js';
import { jwtSubject } from './internal/jwt-subject.js';
import { jitterReconnects } from './internal/reconnects.js';
import { Listeners } from './internal/listeners.js';
import type { RequestEvent, RequestPayload, RequestResult, Requester } from './internal/requests.js';
import { Room, type RoomLink } from './room.js';

export type SwitchyardSocket = Socket<ServerToClientEvents, ClientToServerEvents>;
export type Transport = 'polling' | 'websocket' | 'webtransport';

export interface ClientOptions {
  /** Display name, for a gateway in `anonymous` auth mode. */
  name?: string;
  /**
   * Anonymous mode: a stable user id (1-128 of letters, digits, `_ . : @ | -`). The gateway
   * dedupes retried sends per user, so the SDK keeps one id across reconnects; by default a
   * random one per client. Pass your own (e.g. from storage) to make several tabs one member.
   */
  userId?: string;
  /** A JWT, for a gateway in `jwt` auth mode. Prefer `getToken` for tokens that expire. */
  token?: string;
  /** Called before every connection attempt (first connect and each reconnect), so a refreshed JWT is used. */
  getToken?: () => string | Promise<string>;
  /** Socket.IO transports, in order; default `['polling', 'websocket']` (polling, then upgrade). */
  transports?: readonly Transport[];
  /** How long a request waits for its ack, and for a connection before it fails with DISCONNECTED. Default 10 000. */
  ackTimeoutMs?: number;
  /** Attempts per request (send, join, history, leave) on TIMEOUT or DISCONNECTED before rejecting. Default 5. */
  attempts?: number;
  /** At most one `typing` event per room in this interval. Default 2 000. */
  typingIntervalMs?: number;
  /** After a reconnect, at most this many history pages (100 messages each) are fetched per room. Default 20. */
  catchUpPages?: number;
  /** Passed to `io()` as is (reconnection delays, path, extra headers…). */
  socketOptions?: Omit<Partial<ManagerOptions & SocketOptions>, 'auth' | 'autoConnect' | 'transports'>;
}

export interface ClientEvents {
  state: StateListener;
  /** Problems not tied to a request: `gateway:error`, a room the gateway refused to rejoin, a failing `getToken`. */
  error: (error: SwitchyardClientError) => void;
}

/** Ack callbacks of `socket.timeout(ms).emit`, untyped: the typed surface is `Requester`. */
type TimedEmit = (event: string, payload: unknown, ack: (error: Error | null, response: unknown) => void) => void;

const REJOIN_ATTEMPTS = 3;
const MAX_SHUTDOWN_DELAY_MS = 30_000;

/** The typed Switchyard client. Create one with `createClient(url, options)`. */
export class SwitchyardClient {
  /** The underlying Socket.IO socket, for what the SDK does not cover. Do not emit room events on it directly. */
  readonly socket: SwitchyardSocket;

  readonly #ackTimeoutMs: number;
  readonly #attempts: number;
  readonly #rooms = new Map<string, Room>();
  readonly #joining = new Map<string, Promise<Room>>();
  readonly #listeners = new Listeners<ClientEvents>();
  readonly #link: RoomLink;
  #state: ConnectionState = 'connecting';
  #stateError: SwitchyardClientError | undefined;
  #everConnected = false;
  /** Our own user id as the gateway knows it (anonymous `userId`, or the JWT's `sub`), when we can tell. */
  #selfId: string | undefined;
  #closed = false;
  /** Bumped on every connect and disconnect, so a stale rejoin does not announce `connected`. */
  #generation = 0;
  #shutdownNotice: ShutdownNotice | undefined;
  /** Why the gateway said it was closing the connection (a token that reached its `exp`). */
  #disconnectNotice: DisconnectNotice | undefined;
  /** Whether a reconnect can bring a fresh token (`getToken`), or only the same one again. */
  readonly #refreshesTokens: boolean;
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(url: string, options: ClientOptions = {}) {
    this.#ackTimeoutMs = options.ackTimeoutMs ?? 10_000;
    this.#attempts = Math.max(1, options.attempts ?? 5);
    this.#refreshesTokens = options.getToken !== undefined;
    const anonymous = options.token === undefined && options.getToken === undefined;
    const userId = anonymous ? (options.userId ?? randomId()) : undefined;
    this.#link = {
      request: (event, payload) => this.#request(event, payload),
      emitTyping: (room) => void this.socket.volatile.emit('typing', { room }),
      forget: (room) => {
        if (this.#rooms.get(room.name) === room) this.#rooms.delete(room.name);
      },
      selfId: () => this.#selfId,
      typingIntervalMs: options.typingIntervalMs ?? 2_000,
      catchUpPages: options.catchUpPages ?? 20,
    };
    this.socket = io(url, {
      // Each client owns its connection: closing one must not close another's shared Manager.
      forceNew: true,
      ...options.socketOptions,
      ...(options.transports === undefined ? {} : { transports: [...options.transports] }),
      autoConnect: true,
      auth: (cb: (data: object) => void) => void this.#handshakeAuth(options, userId).then(cb),
    });
    // Full jitter, and a busy node's Retry-After, for every reconnection (see internal/reconnects.ts).
    jitterReconnects(this.socket.io);
    this.#wireSocket();
  }

  get state(): ConnectionState {
    return this.#state;
  }

  /** Rooms joined and not left. */
  get rooms(): readonly Room[] {
    return [...this.#rooms.values()];
  }

  room(name: string): Room | undefined {
    return this.#rooms.get(name);
  }

  /** Called on every state change; returns a function that unsubscribes. */
  onState(listener: StateListener): () => void {
    return this.#listeners.add('state', listener);
  }

  onError(listener: ClientEvents['error']): () => void {
    return this.#listeners.add('error', listener);
  }

  /**
   * Resolves once connected (and rooms rejoined). Rejects with the gateway's code if it refuses
   * the connection (e.g. AUTH_INVALID), or DISCONNECTED after `timeoutMs`.
   */
  ready(timeoutMs = this.#ackTimeoutMs): Promise<void> {
    if (this.#state === 'connected') return Promise.resolve();
    if (this.#state === 'disconnected') return Promise.reject(this.#notConnected());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new SwitchyardClientError('DISCONNECTED'));
      }, timeoutMs);
      const off = this.onState((state) => {
        if (state !== 'connected' && state !== 'disconnected') return;
        clearTimeout(timer);
        off();
        if (state === 'connected') resolve();
        else reject(this.#notConnected());
      });
    });
  }

  /** Joins a room (once: joining it again returns the same handle). */
  join(name: string): Promise<Room> {
    const existing = this.#rooms.get(name);
    if (existing !== undefined) return Promise.resolve(existing);
    const pending = this.#joining.get(name);
    if (pending !== undefined) return pending;
    const room = new Room(name, this.#link);
    this.#rooms.set(name, room);
    const joined = room.sync(this.#link.request, false).then(
      () => room,
      (error: unknown) => {
        this.#link.forget(room);
        throw error;
      },
    );
    this.#joining.set(name, joined);
    const settle = () => void this.#joining.delete(name);
    joined.then(settle, settle);
    return joined;
  }

  /** Disconnects for good; pending and later requests reject with DISCONNECTED. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#reconnectTimer);
    this.#setState('disconnected');
    this.socket.disconnect();
    this.#listeners.clear();
  }

  async #handshakeAuth(options: ClientOptions, userId: string | undefined): Promise<object> {
    const auth: HandshakeAuth = {};
    if (options.name !== undefined) auth.name = options.name;
    if (userId !== undefined) auth.userId = userId;
    this.#selfId = userId;
    try {
      const token = options.getToken === undefined ? options.token : await options.getToken();
      if (token !== undefined) auth.token = token;
      this.#selfId ??= jwtSubject(token);
    } catch (cause) {
      // The gateway will refuse the handshake without a token; say why here.
      this.#listeners.emit('error', new SwitchyardClientError('AUTH_REQUIRED', 'getToken() failed', { cause }));
    }
    return auth;
  }

  #wireSocket(): void {
    const socket = this.socket;
    socket.on('connect', () => void this.#onConnect());
    socket.on('disconnect', (reason) => this.#onDisconnect(reason));
    socket.on('connect_error', (error) => this.#onConnectError(error));
    socket.io.on('reconnect_failed', () => this.#setState('disconnected'));
    socket.on('message:new', (message) => this.#rooms.get(message.room)?.receiveMessage(message));
    const presence = (event: PresenceDiff | PresenceCount) => this.#rooms.get(event.room)?.receivePresence(event);
    socket.on('presence:diff', presence);
    socket.on('presence:count', presence);
    socket.on('typing', (event) => this.#rooms.get(event.room)?.receiveTyping(event));
    socket.on('server:shutdown', (notice) => void (this.#shutdownNotice = notice));
    socket.on('server:disconnect', (notice) => void (this.#disconnectNotice = notice));
    socket.on('gateway:error', (error) => this.#listeners.emit('error', fromErrorBody(error, error.event)));
    // The gateway closes the transport next (SLOW_CONSUMER): socket.io-client reconnects and the session resumes.
    socket.on('server:disconnect', (notice) => this.#listeners.emit('error', fromErrorBody(notice)));
  }

  async #onConnect(): Promise<void> {
    const generation = ++this.#generation;
    this.#everConnected = true;
    this.#shutdownNotice = undefined;
    this.#disconnectNotice = undefined;
    // Recovered (connection state recovery): the gateway restored this socket's rooms and has
    // replayed what it missed, and socket.io-client emits those packets before `connect`, through
    // the usual handlers (seen ids drop duplicates). So only rooms that were not in sync when the
    // connection dropped (a rejoin cut short) join again: the others would cost presence churn and
    // history paging for nothing. Otherwise every room rejoins and catches up from history.
    const rooms = this.socket.recovered ? this.rooms.filter((room) => !room.synced) : this.rooms;
    await Promise.all(rooms.map((room) => this.#rejoin(room, generation)));
    if (generation === this.#generation && this.socket.connected && !this.#closed) this.#setState('connected');
  }

  async #rejoin(room: Room, generation: number): Promise<void> {
    const send: Requester = (event, payload) => this.#emit(event, payload);
    for (let attempt = 1; ; attempt++) {
      try {
        return await room.sync(send, true);
      } catch (error) {
        if (generation !== this.#generation) return; // disconnected again: the next connect rejoins
        if (isClientError(error, 'TIMEOUT', 'DISCONNECTED', 'RATE_LIMITED') && attempt < REJOIN_ATTEMPTS) continue;
        room.drop();
        const cause =
          error instanceof SwitchyardClientError ? error : new SwitchyardClientError('INTERNAL', String(error));
        this.#listeners.emit(
          'error',
          new SwitchyardClientError(cause.code, `Could not rejoin room "${room.name}": ${cause.message}`, {
            event: 'room:join',
            cause,
          }),
        );
        return;
      }
    }
  }

  #onDisconnect(reason: Socket.DisconnectReason): void {
    this.#generation++;
    if (this.#closed) return;
    if (reason === 'io server disconnect') {
      // socket.io does not reconnect after a server-side disconnect. A draining gateway said so first: reconnect (elsewhere).
      const notice = this.#shutdownNotice;
      if (notice !== undefined) {
        this.#scheduleReconnect(notice.reconnectAfterMs);
        return;
      }
      this.#setState('disconnected', new SwitchyardClientError('DISCONNECTED', 'The gateway closed the connection'));
      return;
    }
    // The token reached its `exp`: socket.io reconnects by itself, and the handshake asks getToken
    // for a fresh one; a fixed token would only be refused, so that is the end.
    const notice = this.#disconnectNotice;
    if (notice?.code === 'TOKEN_EXPIRED' && !this.#refreshesTokens) {
      this.socket.disconnect();
      this.#setState('disconnected', fromErrorBody(notice));
      return;
    }
    // `socket.disconnect()` called on `client.socket` directly: socket.io will not reconnect.
    if (reason === 'io client disconnect') this.#setState('disconnected');
    else this.#setState(this.#everConnected ? 'reconnecting' : 'connecting');
  }

  #onConnectError(error: Error): void {
    if (this.#closed || this.socket.active) return; // a transient failure: socket.io retries on its own
    // The gateway refused the handshake (auth, limits, draining): the code is in `error.data`.
    const data = (error as Error & { data?: Partial<ErrorBody> }).data;
    const refusal = fromErrorBody({ code: data?.code ?? 'INTERNAL', message: data?.message ?? error.message });
    if (refusal.code === 'SHUTTING_DOWN' || refusal.code === 'OVERLOADED') {
      this.#scheduleReconnect(1_000);
      return;
    }
    this.#setState('disconnected', refusal);
  }

  #scheduleReconnect(afterMs: number): void {
    this.#setState(this.#everConnected ? 'reconnecting' : 'connecting');
    clearTimeout(this.#reconnectTimer);
    // Jitter spreads the clients of a draining node over the surviving ones.
    const delay = Math.min(Math.max(0, afterMs), MAX_SHUTDOWN_DELAY_MS) * (0.5 + Math.random() / 2);
    this.#reconnectTimer = setTimeout(() => {
      if (!this.#closed) this.socket.connect();
    }, delay);
  }

  #setState(state: ConnectionState, error?: SwitchyardClientError): void {
    this.#stateError = state === 'disconnected' ? error : undefined;
    if (state === this.#state) return;
    this.#state = state;
    if (error === undefined) this.#listeners.emit('state', state);
    else this.#listeners.emit('state', state, error);
  }

  #notConnected(): SwitchyardClientError {
    return this.#stateError ?? new SwitchyardClientError('DISCONNECTED');
  }

  /** A request as the app sees it: waits to be connected, retries transient failures. */
  async #request<E extends RequestEvent>(event: E, payload: RequestPayload<E>): Promise<RequestResult<E>> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.ready();
        return await this.#emit(event, payload);
      } catch (error) {
        const transient = isClientError(error, 'TIMEOUT', 'DISCONNECTED') && this.#state !== 'disconnected';
        if (!transient || attempt >= this.#attempts) throw error;
      }
    }
  }

  /** One emit with an ack deadline; no waiting, no retry. */
  #emit<E extends RequestEvent>(event: E, payload: RequestPayload<E>): Promise<RequestResult<E>> {
    if (!this.socket.connected) return Promise.reject(new SwitchyardClientError('DISCONNECTED', undefined, { event }));
    return new Promise((resolve, reject) => {
      const emit = this.socket.timeout(this.#ackTimeoutMs).emit as unknown as TimedEmit;
      emit.call(this.socket, event, payload, (error, response) => {
        if (error !== null) {
          // socket.io fails pending acks with "socket has been disconnected" when the connection drops.
          const lost = !this.socket.connected || /disconnect/i.test(error.message);
          reject(new SwitchyardClientError(lost ? 'DISCONNECTED' : 'TIMEOUT', undefined, { event }));
          return;
        }
        const ack = response as { ok?: unknown; error?: Partial<ErrorBody> } | null;
        if (ack !== null && typeof ack === 'object' && ack.ok === true) resolve(ack as RequestResult<E>);
        else reject(fromErrorBody(ack?.error, event));
      });
    });
  }
}

/** Connects to a Switchyard gateway. The connection starts at once; requests wait for it. */
export function createClient(url: string, options: ClientOptions = {}): SwitchyardClient {
  return new SwitchyardClient(url, options);
}
