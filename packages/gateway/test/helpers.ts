import { setTimeout as sleep } from 'node:timers/promises';
import { io as ioClient, type ManagerOptions, type Socket as ClientSocket, type SocketOptions } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents } from '@switchyard/protocol';
import { createGateway, type Gateway, type GatewayDeps, loadConfig } from '../src/index.js';

/*
 * Real gateways on ephemeral ports and real socket.io-client sockets. Everything started here
 * is tracked and closed by `closeAll()` (call it in afterEach). Waits poll with deadlines,
 * never fixed sleeps.
 */

export type TestSocket = ClientSocket<ServerToClientEvents, ClientToServerEvents>;
export type Transport = 'polling' | 'websocket';
export const TRANSPORTS: Transport[] = ['polling', 'websocket'];

/** Generous for a loaded 2-core machine: a deadline, not a speed expectation. */
export const DEADLINE_MS = 10_000;

const gateways = new Set<Gateway>();
const sockets = new Set<TestSocket>();

export interface StartedGateway {
  gateway: Gateway;
  url: string;
}

export async function startGateway(env: Record<string, string> = {}, deps?: GatewayDeps): Promise<StartedGateway> {
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', ...env });
  const gateway = await createGateway(config, deps);
  gateways.add(gateway);
  const { url } = await gateway.listen();
  return { gateway, url };
}

export interface ConnectOptions {
  transports: Transport[];
  auth?: Record<string, unknown>;
  /** Off by default so a refused or closed socket stays put for assertions. */
  reconnection?: boolean;
}

/** A socket that is not connected yet; see `connected` / `connectError`. */
export function socketTo(url: string, { transports, auth, reconnection = false }: ConnectOptions): TestSocket {
  const options: Partial<ManagerOptions & SocketOptions> = {
    transports,
    reconnection,
    forceNew: true,
    timeout: DEADLINE_MS,
    ...(auth === undefined ? {} : { auth }),
  };
  const socket: TestSocket = ioClient(url, options);
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

/** Polls `check` until it returns a truthy value or the deadline passes. */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, deadlineMs = DEADLINE_MS): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/**
 * A round trip to the gateway. Packets on one connection are ordered, so anything the gateway
 * emitted to this socket before handling this request has arrived when it resolves: the way
 * to prove that an event was *not* received.
 */
export async function roundTrip(socket: TestSocket, room: string): Promise<void> {
  await request(socket, 'history:fetch', { room, limit: 1 });
}

export async function closeAll(): Promise<void> {
  for (const socket of sockets) socket.disconnect();
  sockets.clear();
  await Promise.all([...gateways].map((gateway) => gateway.close()));
  gateways.clear();
}

function withDeadline<T>(
  what: string,
  body: (resolve: (value: T) => void, reject: (error: unknown) => void) => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), DEADLINE_MS);
    body(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
