import fs from 'node:fs';
import { ChildHandle } from '../harness/child-process.js';
import type { ServerCommands } from '../harness/ipc.js';
import type { LoadCommands } from '../load/commands.js';
import { benchSource, workspaceFile } from '../harness/paths.js';
import type { BareServerConfig } from '../servers/server-config.js';
import { SERVER_CONFIG_ENV } from '../servers/server-config.js';
import type { ScenarioContext } from './types.js';

/** The JWT secret the benchmark gateway is started with; the load generator signs tokens with it. */
export const BENCH_JWT_SECRET = 'switchyard-bench-secret-at-least-32-bytes-long!';

/** Whether a workspace package has been written yet (its `src/index.ts` exists). */
export function packageExists(name: 'gateway' | 'client' | 'mongo-adapter' | 'mongo-standin'): boolean {
  return fs.existsSync(workspaceFile(`packages/${name}/src/index.ts`));
}

export function startLoad(context: ScenarioContext): Promise<ChildHandle<LoadCommands>> {
  return ChildHandle.start<LoadCommands>({
    name: 'load',
    entry: benchSource('load/main.ts'),
    core: context.cores.load,
    logDir: context.logDir,
  });
}

export function startBareServer(
  context: ScenarioContext,
  config: Partial<BareServerConfig> = {},
  name = 'socketio',
): Promise<ChildHandle<ServerCommands>> {
  return ChildHandle.start<ServerCommands>({
    name,
    entry: benchSource('servers/socketio-server.ts'),
    core: context.cores.server,
    logDir: context.logDir,
    env: { [SERVER_CONFIG_ENV]: JSON.stringify(config) },
  });
}

export function startWsServer(context: ScenarioContext): Promise<ChildHandle<ServerCommands>> {
  return ChildHandle.start<ServerCommands>({
    name: 'ws',
    entry: benchSource('servers/ws-server.ts'),
    core: context.cores.server,
    logDir: context.logDir,
  });
}

export type GatewayAuth = 'anonymous' | 'jwt';

/**
 * The gateway as users run it (validation, auth, history, metrics on), with rate limits raised so the
 * benchmark measures the work, not the limiter, and logs at `warn` so logging does not dominate.
 */
export function startGateway(
  context: ScenarioContext,
  options: { auth: GatewayAuth; transports?: string; env?: Record<string, string>; core?: string },
): Promise<ChildHandle<ServerCommands>> {
  return ChildHandle.start<ServerCommands>({
    name: `gateway-${options.auth}`,
    entry: benchSource('servers/gateway-server.ts'),
    core: options.core ?? context.cores.server,
    logDir: context.logDir,
    env: {
      PORT: '0',
      HOST: '127.0.0.1',
      AUTH_MODE: options.auth,
      JWT_SECRET: BENCH_JWT_SECRET,
      LOG_LEVEL: 'warn',
      NODE_ENV: 'production',
      TRANSPORTS: options.transports ?? 'polling,websocket',
      RATE_LIMIT_BURST: '100000',
      RATE_LIMIT_PER_SECOND: '100000',
      ...options.env,
    },
  });
}

export function serverUrl(server: ChildHandle<ServerCommands>): string {
  const url = server.info.url;
  if (typeof url !== 'string') throw new Error(`${server.name} did not report its url`);
  return url;
}

/** Starts what `start` returns, runs `body`, and always stops the children, even when `body` throws. */
export async function withChildren<T>(
  start: () => Promise<ChildHandle[]>,
  body: (children: ChildHandle[]) => Promise<T>,
): Promise<T> {
  const children: ChildHandle[] = [];
  try {
    children.push(...(await start()));
    return await body(children);
  } finally {
    await Promise.all(children.map((child) => child.stop()));
  }
}
