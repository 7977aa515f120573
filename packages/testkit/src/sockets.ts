import { io as ioClient, type ManagerOptions, type Socket as ClientSocket, type SocketOptions } from 'socket.io-client';
import { nodeOfSessionId } from '@switchyard/gateway';
import type { ClientToServerEvents, ServerToClientEvents } from '@switchyard/protocol';
import { DEADLINE_MS, waitFor, withDeadline } from './wait-for.js';

/*
 * Real socket.io-client sockets, typed with the protocol, tracked so `closeSockets()` (afterEach)
 * disconnects every one. `socketTo` is for one in-process gateway (no reconnection unless asked,
 * so a refused or closed socket stays put for assertions); `clientTo` for gateways behind a balancer
 * (reconnecting quickly, as a browser would).
 */

export type TestSocket = ClientSocket<ServerToClientEvents, ClientToServerEvents>;
export type Transport = 'polling' | 'websocket';
export const TRANSPORTS: Transport[] = ['polling', 'websocket'];

const sockets = new Set<TestSocket>();
const upgradeErrors = new WeakMap<TestSocket, number>();

export interface ConnectOptions {
  transports: Transport[];
  auth?: Record<string, unknown>;
  /** Off by default so a refused or closed socket stays put for assertions. */
  reconnection?: boolean;
}

/** A socket that is not connected yet; see `connected` / `connectError`. */
export function socketTo(url: string, { transports, auth, reconnection = false }: ConnectOptions): TestSocket {
  return track(
    ioClient(url, {
      transports,
      reconnection,
      forceNew: true,
      timeout: DEADLINE_MS,
      ...(auth === undefined ? {} : { auth }),
    }),
  );
}

export interface ClientOptions {
  transports?: Transport[];
  auth?: Record<string, unknown>;
  reconnection?: boolean;
  /** Only these socket.io-client options; everything else is left at its default. */
  defaults?: boolean;
}

/** A socket through a balancer, reconnecting quickly. `defaults: true` passes no option but `auth`. */
export function clientTo(url: string, options: ClientOptions = {}): TestSocket {
  const opts: Partial<ManagerOptions & SocketOptions> = options.defaults
    ? { forceNew: true, ...(options.auth ? { auth: options.auth } : {}) }
    : {
        forceNew: true,
        reconnectionDelay: 100,
        reconnectionDelayMax: 1000,
        timeout: 10_000,
        reconnection: options.reconnection ?? true,
        ...(options.transports ? { transports: options.transports } : {}),
        ...(options.auth ? { auth: options.auth } : {}),
      };
  const socket = track(ioClient(url, opts));
  socket.io.on('open', () =>
    socket.io.engine.on('upgradeError', () => upgradeErrors.set(socket, (upgradeErrors.get(socket) ?? 0) + 1)),
  );
  return socket;
}

function track(socket: TestSocket): TestSocket {
  sockets.add(socket);
  return socket;
}

/** Connects and resolves once connected; rejects with the connect_error. */
export async function connect(url: string, options: ConnectOptions): Promise<TestSocket> {
  const socket = socketTo(url, options);
  await connected(socket);
  return socket;
}

export function connected(socket: TestSocket): Promise<void> {
  if (socket.connected) return Promise.resolve();
  return withDeadline('connect', (resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
}

/** Waits (polling) until the socket is connected, through any number of failed attempts. */
export async function connectedSocket(socket: TestSocket, timeoutMs = 30_000): Promise<TestSocket> {
  await waitFor('the socket to connect', () => socket.connected, { timeoutMs });
  return socket;
}

/** Resolves with the connect_error (with `data.code` for refusals by the gateway). */
export function connectError(socket: TestSocket): Promise<Error & { data?: { code?: string; message?: string } }> {
  return withDeadline('connect_error', (resolve, reject) => {
    socket.once('connect', () => reject(new Error('connected, but a connect_error was expected')));
    socket.once('connect_error', resolve);
  });
}

/** The next `event` (matching `filter`), within the deadline. Register before triggering it. */
export function nextEvent<E extends keyof ServerToClientEvents>(
  socket: TestSocket,
  event: E,
  filter: (...args: Parameters<ServerToClientEvents[E]>) => boolean = () => true,
): Promise<Parameters<ServerToClientEvents[E]>[0]> {
  return withDeadline(`event ${event}`, (resolve) => {
    const listener = (...args: Parameters<ServerToClientEvents[E]>): void => {
      if (!filter(...args)) return;
      (socket.off as (event: string, listener: unknown) => void)(event, listener);
      resolve(args[0]);
    };
    (socket.on as (event: string, listener: unknown) => void)(event, listener);
  });
}

/** Collects every `event` a socket receives, for "received exactly once / never" assertions. */
export function recordEvents<E extends keyof ServerToClientEvents>(
  socket: TestSocket,
  event: E,
): Parameters<ServerToClientEvents[E]>[0][] {
  const received: Parameters<ServerToClientEvents[E]>[0][] = [];
  (socket.on as (event: string, listener: unknown) => void)(event, (first: Parameters<ServerToClientEvents[E]>[0]) =>
    received.push(first),
  );
  return received;
}

export function disconnected(socket: TestSocket): Promise<string> {
  if (socket.disconnected && !socket.active) return Promise.resolve('already disconnected');
  return withDeadline('disconnect', (resolve) => socket.once('disconnect', (reason) => resolve(reason)));
}

/**
 * Emits an event with an ack and resolves with the ack. Untyped on purpose so tests can send
 * what a well-behaved client never would.
 */
export function request<T = unknown>(socket: TestSocket, event: string, ...args: unknown[]): Promise<T> {
  const raw = socket as unknown as {
    timeout(ms: number): { emitWithAck(event: string, ...args: unknown[]): Promise<T> };
  };
  return raw.timeout(DEADLINE_MS).emitWithAck(event, ...args);
}

/** Emits without an ack (untyped). */
export function send(socket: TestSocket, event: string, ...args: unknown[]): void {
  (socket as unknown as { emit(event: string, ...args: unknown[]): void }).emit(event, ...args);
}

/**
 * A round trip to the gateway. Packets on one connection are ordered, so anything the gateway
 * emitted to this socket before handling this request has arrived when it resolves: the way
 * to prove that an event was *not* received.
 */
export async function roundTrip(socket: TestSocket, room: string): Promise<void> {
  await request(socket, 'history:fetch', { room, limit: 1 });
}

/** The node that serves a connected socket, read from its Engine.IO session id. */
export function nodeOf(socket: TestSocket): string | undefined {
  const id = socket.io.engine?.id;
  return id ? nodeOfSessionId(id) : undefined;
}

/** The Engine.IO transport a connected socket uses now. */
export function transportOf(socket: TestSocket): string | undefined {
  return socket.io.engine?.transport?.name;
}

/** How many times this socket's WebSocket upgrade probe failed. */
export function upgradeErrorsOf(socket: TestSocket): number {
  return upgradeErrors.get(socket) ?? 0;
}

/**
 * Connects through the balancer until the session lands on `nodeId` (the balancer spreads
 * handshakes round robin, so a few tries are enough).
 */
export async function clientOn(balancerUrl: string, nodeId: string, options: ClientOptions = {}): Promise<TestSocket> {
  for (let attempt = 0; attempt < 60; attempt += 1) {
    const socket = await connectedSocket(clientTo(balancerUrl, options));
    if (nodeOf(socket) === nodeId) return socket;
    socket.disconnect();
    sockets.delete(socket);
    // Other traffic shares the round robin: a little jitter keeps us from falling in step with it.
    await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 30)));
  }
  throw new Error(`no session landed on ${nodeId}`);
}

export function closeSockets(): void {
  for (const socket of sockets) socket.disconnect();
  sockets.clear();
}
