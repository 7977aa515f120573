import type { BaseCommands, Command } from '../harness/ipc.js';
import type { AckClientsOptions } from './ack-latency.js';
import type { AuthSpec } from './auth.js';
import type { EchoParams } from './echo.js';
import type { FanoutParams } from './fanout.js';
import type { IdleParams } from './idle.js';
import type { RoomsConnectParams, RoomsParams } from './rooms.js';
import type { PublishRateParams } from './publish-rate.js';
import type { StormConnectParams, StormResult, StormStatus } from './storm.js';
import type { WindowResult } from './workload.js';

export interface FanoutConnectParams {
  /** `sse`: member 0 sends over Socket.IO, the others subscribe over SSE. */
  target: 'socketio' | 'ws' | 'sse';
  /** One url per node; the raw `ws` target uses the first. */
  urls: string[];
  members: number;
  room: string;
  auth: AuthSpec;
  concurrency: number;
  /** Socket.IO members: only connect; `fanout.join` joins them all later, timed. */
  phased?: boolean;
}

export interface ConnectRateParams {
  url: string;
  concurrency: number;
  auth: AuthSpec;
}

/** The load generator's commands, phase by phase: connect, start a workload, measure windows, stop, close. */
export interface LoadCommands extends BaseCommands {
  'idle.open': Command<IdleParams, { connected: number; ms: number }>;
  'fanout.connect': Command<FanoutConnectParams, { members: number; ms: number }>;
  /** After a `phased` connect: every member joins the room; resolves with how long that took. */
  'fanout.join': Command<null, { ms: number }>;
  'fanout.start': Command<FanoutParams, boolean>;
  'rooms.connect': Command<RoomsConnectParams, { rooms: number; ms: number }>;
  'rooms.start': Command<RoomsParams, boolean>;
  'ack.connect': Command<AckClientsOptions, { clients: number; ms: number }>;
  'ack.start': Command<{ rate: number; bytes: number }, boolean>;
  'connect.start': Command<ConnectRateParams, boolean>;
  'publish.start': Command<PublishRateParams, boolean>;
  'echo.start': Command<EchoParams, boolean>;
  'window.begin': Command<null, boolean>;
  'window.end': Command<null, WindowResult>;
  'workload.stop': Command<null, boolean>;
  'storm.connect': Command<StormConnectParams, { clients: number; ms: number }>;
  /** A message in every room, until every client received one. */
  'storm.prime': Command<null, boolean>;
  /** From now on, clients that lose their connection are the storm's victims. */
  'storm.begin': Command<null, boolean>;
  'storm.status': Command<null, StormStatus>;
  'storm.result': Command<null, StormResult>;
  /** Closes every connection the load generator holds. */
  'connections.close': Command<null, boolean>;
}
