import { serveCommands } from '../harness/child-runtime.js';
import { BenchError } from '../harness/errors.js';
import type { Socket } from 'socket.io-client';
import { AckLatencyWorkload, connectAckClients } from './ack-latency.js';
import type { LoadCommands } from './commands.js';
import { ConnectRateWorkload } from './connect-rate.js';
import { EchoWorkload } from './echo.js';
import { FanoutWorkload } from './fanout.js';
import { connectSocketIoGroup, connectSseGroup, connectWsGroup, type FanoutGroup } from './fanout-group.js';
import { IdleClients } from './idle.js';
import { RoomsGroup, RoomsWorkload } from './rooms.js';
import { PublishRateWorkload } from './publish-rate.js';
import { StormClients } from './storm.js';
import type { Workload } from './workload.js';

/**
 * Child entry: the load generator. It holds at most one set of connections and one running workload;
 * the orchestrator drives it phase by phase (connect, start, window begin/end, stop, close).
 */
let idle: IdleClients | undefined;
let group: FanoutGroup | undefined;
let ackSockets: Socket[] | undefined;
let rooms: RoomsGroup | undefined;
let workload: Workload | undefined;
let storm: StormClients | undefined;

function active(): Workload {
  if (!workload) throw new BenchError('WORKLOAD_FAILED', 'no workload is running');
  return workload;
}

function crowd(): StormClients {
  if (!storm) throw new BenchError('WORKLOAD_FAILED', 'no storm crowd: storm.connect first');
  return storm;
}

function timed<T>(action: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  return action().then((value) => ({ value, ms: performance.now() - started }));
}

serveCommands<LoadCommands>({
  'idle.open': async (params) => {
    const { value, ms } = await timed(() => IdleClients.open(params));
    idle = value;
    return { connected: value.size, ms };
  },
  'fanout.connect': async (params) => {
    const url = params.urls[0]!;
    const connect = {
      ws: () => connectWsGroup({ ...params, url }),
      sse: () => connectSseGroup({ ...params, url }),
      socketio: () => connectSocketIoGroup(params),
    }[params.target];
    const { value, ms } = await timed(connect);
    group = value;
    return { members: value.size, ms };
  },
  'fanout.join': async () => {
    if (!group?.joinAll) throw new BenchError('WORKLOAD_FAILED', 'fanout.join needs a phased fanout.connect first');
    return { ms: await group.joinAll() };
  },
  'fanout.start': (params) => {
    if (!group) throw new BenchError('WORKLOAD_FAILED', 'fanout.start before fanout.connect');
    workload = new FanoutWorkload(group, params);
    return true;
  },
  'rooms.connect': async (params) => {
    const { value, ms } = await timed(() => RoomsGroup.connect(params));
    rooms = value;
    return { rooms: params.rooms, ms };
  },
  'rooms.start': (params) => {
    if (!rooms) throw new BenchError('WORKLOAD_FAILED', 'rooms.start before rooms.connect');
    workload = new RoomsWorkload(rooms, params);
    return true;
  },
  'ack.connect': async (params) => {
    const { value, ms } = await timed(() => connectAckClients(params));
    ackSockets = value;
    return { clients: value.length, ms };
  },
  'ack.start': (params) => {
    if (!ackSockets) throw new BenchError('WORKLOAD_FAILED', 'ack.start before ack.connect');
    workload = new AckLatencyWorkload(ackSockets, params);
    return true;
  },
  'connect.start': async (params) => {
    workload = await ConnectRateWorkload.start(params);
    return true;
  },
  'publish.start': async (params) => {
    workload = PublishRateWorkload.start(params);
    return true;
  },
  'echo.start': async (params) => {
    workload = await EchoWorkload.start(params);
    return true;
  },
  'storm.connect': async (params) => {
    const { value, ms } = await timed(() => StormClients.connect(params));
    storm = value;
    return { clients: value.size, ms };
  },
  'storm.prime': () => crowd().prime(),
  'storm.begin': () => crowd().begin(),
  'storm.status': () => crowd().status(),
  'storm.result': () => crowd().result(),
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
    await rooms?.close();
    rooms = undefined;
    for (const socket of ackSockets ?? []) socket.disconnect();
    ackSockets = undefined;
    idle?.close();
    idle = undefined;
    storm?.close();
    storm = undefined;
    return true;
  },
});
