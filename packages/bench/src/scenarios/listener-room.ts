import type { ChildHandle } from '../harness/child-process.js';
import type { ServerCommands } from '../harness/ipc.js';
import { sleep, type MeasuredWindow } from '../harness/measure.js';
import type { FanoutConnectParams } from '../load/commands.js';
import { saturationWindow } from './saturation-window.js';
import { measureWorkload, type LoadHandle } from './server-workload.js';
import { serverUrl } from './targets.js';
import type { ScenarioContext } from './types.js';

export interface ListenerRoomOptions {
  target: FanoutConnectParams['target'];
  auth: FanoutConnectParams['auth'];
  room: string;
  /** Listeners; one more member is the sender. */
  listeners: number;
  connectTimeoutMs: number;
  /** Pause after connecting, before memory is read. */
  settleMs: number;
  /** The fixed rate (messages/s) for the second window, given the saturated deliveries/s of this one. */
  fixedRate: (saturatedDeliveries: number) => number;
}

export interface ListenerRoomResult {
  /** Heap and RSS per member, and how long connecting all took. */
  memory: { heap: number; rss: number; connectMs: number };
  saturated: MeasuredWindow;
  fixed: MeasuredWindow;
}

/**
 * One room of listeners and a sender on one server: memory per member once all are in, then
 * deliveries at saturation and at a fixed rate, then the members closed.
 */
export async function measureListenerRoom(
  server: ChildHandle<ServerCommands>,
  load: LoadHandle,
  context: ScenarioContext,
  options: ListenerRoomOptions,
): Promise<ListenerRoomResult> {
  const members = options.listeners + 1;
  const before = await server.stats();
  const connected = await load.call(
    'fanout.connect',
    {
      target: options.target,
      urls: [serverUrl(server)],
      members,
      room: options.room,
      auth: options.auth,
      concurrency: 50,
    },
    options.connectTimeoutMs,
  );
  context.log(`  ${options.listeners} listeners + 1 sender connected in ${(connected.ms / 1000).toFixed(1)} s`);
  await sleep(options.settleMs);
  const after = await server.stats();
  const saturated = await measureWorkload([server], load, context, () =>
    load.call('fanout.start', { mode: 'saturate', bytes: 100, window: saturationWindow(options.listeners) }),
  );
  const rate = options.fixedRate(saturated.rate);
  const fixed = await measureWorkload([server], load, context, () =>
    load.call('fanout.start', { mode: 'fixed', bytes: 100, rate }),
  );
  await load.call('connections.close');
  return {
    memory: {
      heap: (after.heapUsed - before.heapUsed) / members,
      rss: (after.rss - before.rss) / members,
      connectMs: connected.ms,
    },
    saturated,
    fixed,
  };
}
