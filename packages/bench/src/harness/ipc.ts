import type { StandInCounters } from '@switchyard/mongo-standin';

/** Messages between the orchestrator and its child processes over the Node IPC channel. */
export interface CallMessage {
  kind: 'call';
  id: number;
  command: string;
  argument: unknown;
}

export interface ResultMessage {
  kind: 'result';
  id: number;
  ok: boolean;
  value?: unknown;
  error?: { code: string; message: string };
}

export interface ReadyMessage {
  kind: 'ready';
  info: Record<string, unknown>;
}

export type ChildMessage = ResultMessage | ReadyMessage;

/** What every child answers to `stats`: memory after a forced GC and CPU used so far. */
export interface ProcessStats {
  heapUsed: number;
  rss: number;
  cpuUserMicros: number;
  cpuSystemMicros: number;
  gcForced: boolean;
}

/** One IPC command: what the orchestrator sends and what the child answers. */
export interface Command<Argument, Result> {
  argument: Argument;
  result: Result;
}

/** A child's command table, checked at both ends: the orchestrator's `call` and the child's handlers. */
export type CommandMap<C> = { [K in keyof C]: Command<unknown, unknown> };

export interface CpuReading {
  cpuMicros: number;
  wallMs: number;
}

/** Memory as it is, without forcing a GC (garbage included): cheap enough to sample during a window (peak heaps). */
export interface MemoryReading {
  heapUsed: number;
  rss: number;
}

/** Commands every child answers. */
export interface BaseCommands {
  stats: Command<null, ProcessStats>;
  memory: Command<null, MemoryReading>;
  cpu: Command<null, CpuReading>;
  exit: Command<null, boolean>;
}

/** Commands of the server children (bare socket.io, gateway, raw ws). */
export interface ServerCommands extends BaseCommands {
  /** Engine.IO clients (or WebSocket connections) currently open. */
  sockets: Command<null, number>;
}

/** Commands of the MongoDB stand-in child. */
export interface StandInCommands extends BaseCommands {
  counters: Command<null, StandInCounters>;
  'counters.reset': Command<null, boolean>;
}
