import { withChildLogs, type ChildHandle } from '../harness/child-process.js';
import type { ServerCommands } from '../harness/ipc.js';
import { measureWindow, type MeasuredWindow, type Probe } from '../harness/measure.js';
import type { LoadCommands } from '../load/commands.js';
import { serverUrl, startLoad } from './targets.js';
import type { ScenarioContext } from './types.js';

export type StartServer = (context: ScenarioContext) => Promise<ChildHandle<ServerCommands>>;
export type LoadHandle = ChildHandle<LoadCommands>;

/**
 * One server and one load generator for `body`. Both are stopped whatever happens; when `body` throws,
 * the server's log is attached to the error, since that is where a crash explains itself.
 */
export async function withServerAndLoad<T>(
  context: ScenarioContext,
  startServer: StartServer,
  body: (server: ChildHandle<ServerCommands>, load: LoadHandle) => Promise<T>,
): Promise<T> {
  const server = await startServer(context);
  const load = await startLoad(context);
  try {
    return await body(server, load);
  } catch (error) {
    throw withChildLogs(error, [server]);
  } finally {
    await Promise.all([load.stop(), server.stop()]);
  }
}

/**
 * Runs `start` (which starts a workload on `load`), measures one window over `servers` (and `probes`),
 * then stops the workload so the next phase starts clean.
 */
export async function measureWorkload(
  servers: ChildHandle<ServerCommands>[],
  load: LoadHandle,
  context: ScenarioContext,
  start: () => Promise<unknown>,
  probes: Probe[] = [],
): Promise<MeasuredWindow> {
  await start();
  const window = await measureWindow(servers, load, context.profile, probes);
  await load.call('workload.stop');
  return window;
}

export interface ServerWorkload {
  /** Starts the workload on the load generator against the server at `url`. */
  start(load: LoadHandle, url: string): Promise<unknown>;
  /** Close the workload's client connections after it stops (workloads whose clients outlive `workload.stop`). */
  closeConnections?: boolean;
}

/**
 * The single-window scenario in one call: start a server and a load generator, start the workload,
 * measure a window, stop the workload and hand the window to `record` while the children still run
 * (so a failure to stop them cannot drop a measured row).
 */
export async function measureServerWorkload(
  context: ScenarioContext,
  startServer: StartServer,
  workload: ServerWorkload,
  record: (window: MeasuredWindow) => void,
): Promise<void> {
  await withServerAndLoad(context, startServer, async (server, load) => {
    const window = await measureWorkload([server], load, context, () => workload.start(load, serverUrl(server)));
    if (workload.closeConnections) await load.call('connections.close');
    record(window);
  });
}
