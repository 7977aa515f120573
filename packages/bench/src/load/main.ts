import { serveCommands } from '../harness/child-runtime.js';
import { BenchError } from '../harness/errors.js';
import { AckLatencyWorkload, connectAckClients, type AckClientsOptions } from './ack-latency.js';
import type { AuthSpec } from './auth.js';
import { ConnectRateWorkload } from './connect-rate.js';
import { EchoWorkload, type EchoParams } from './echo.js';
import { FanoutWorkload, type FanoutParams } from './fanout.js';
import { connectSocketIoGroup, connectWsGroup, type FanoutGroup } from './fanout-group.js';
import { IdleClients, type IdleParams } from './idle.js';
import type { Socket } from 'socket.io-client';
import type { Workload } from './workload.js';
import type { LoadCommands } from './commands.js';

/**
 * Child entry: the load generator. It holds at most one set of connections and one running workload;
 * the orchestrator drives it phase by phase (connect, start, window begin/end, stop, close).
 */
let idle: IdleClients | undefined;
let group: FanoutGroup | undefined;
let ackSockets: Socket[] | undefined;
let workload: Workload | undefined;

function active(): Workload {
  if (!workload) throw new BenchError('WORKLOAD_FAILED', 'no workload is running');
  return workload;
}

function timed<T>(action: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  return action().then((value) => ({ value, ms: performance.now() - started }));
}

serveCommands<LoadCommands>({
  'idle.open': async (params: IdleParams) => {
    const { value, ms } = await timed(() => IdleClients.open(params));
    idle = value;
    return { connected: value.size, ms };
  },
  'fanout.connect': async (params: {
    target: 'socketio' | 'ws';
    /** One url per node; the raw `ws` target uses the first. */
    urls: string[];
    members: number;
    room: string;
    auth: AuthSpec;
    concurrency: number;
  }) => {
    const { value, ms } = await timed(() =>
      params.target === 'ws' ? connectWsGroup({ ...params, url: params.urls[0]! }) : connectSocketIoGroup(params),
    );
    group = value;
    return { members: value.size, ms };
  },
  'fanout.start': (params: FanoutParams) => {
    if (!group) throw new BenchError('WORKLOAD_FAILED', 'fanout.start before fanout.connect');
    workload = new FanoutWorkload(group, params);
    return true;
  },
  'ack.connect': async (params: AckClientsOptions) => {
    const { value, ms } = await timed(() => connectAckClients(params));
    ackSockets = value;
    return { clients: value.length, ms };
  },
  'ack.start': (params: { rate: number; bytes: number }) => {
    if (!ackSockets) throw new BenchError('WORKLOAD_FAILED', 'ack.start before ack.connect');
    workload = new AckLatencyWorkload(ackSockets, params);
    return true;
  },
  'connect.start': async (params: { url: string; concurrency: number; auth: AuthSpec }) => {
    workload = await ConnectRateWorkload.start(params);
    return true;
  },
  'echo.start': async (params: EchoParams) => {
    workload = await EchoWorkload.start(params);
    return true;
  },
  'window.begin': () => {
    active().beginWindow();
    return true;
  },
  'window.end': () => active().endWindow(),
  'workload.stop': async () => {
    await workload?.stop();
    workload = undefined;
    return true;
  },
  'connections.close': async () => {
    await group?.close();
    group = undefined;
    for (const socket of ackSockets ?? []) socket.disconnect();
    ackSockets = undefined;
    idle?.close();
    idle = undefined;
    return true;
  },
});
