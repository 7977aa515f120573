import { sleep } from '../harness/measure.js';
import { TableBuilder, type MetricSpec } from '../harness/table.js';
import type { AuthSpec } from '../load/auth.js';
import { forEachRun } from './run-loop.js';
import { ANONYMOUS, GATEWAY_JWT, bareServer, jwtGateway, withGatewayVariants } from './server-variants.js';
import { withServerAndLoad, type StartServer } from './server-workload.js';
import { serverUrl } from './targets.js';
import type { Scenario, ScenarioContext } from './types.js';

const BASELINE = 'socket.io (bare)';

const METRICS: MetricSpec[] = [
  { key: 'heap', label: 'heap per client', unit: 'bytes', target: { kind: 'max-ratio', value: 1.1 } },
  { key: 'rss', label: 'RSS per client', unit: 'bytes', target: { kind: 'max-ratio', value: 1.1 } },
  { key: 'connectMs', label: 'time to connect all', unit: 'ms', compare: false },
];

interface Variant {
  label: string;
  auth: AuthSpec;
  start: StartServer;
}

/** Server memory after a forced GC, before and after `count` idle clients connect, divided by `count`. */
async function measureIdle(
  context: ScenarioContext,
  variant: Variant,
  transport: 'websocket' | 'polling',
  count: number,
) {
  return withServerAndLoad(context, variant.start, async (server, load) => {
    const before = await server.stats();
    const opened = await load.call(
      'idle.open',
      { url: serverUrl(server), transport, count, auth: variant.auth, concurrency: transport === 'polling' ? 25 : 50 },
      180_000,
    );
    // Let handshake garbage and pending writes settle before the forced GC.
    await sleep(context.profile.quick ? 200 : 1_000);
    const sockets = await server.call('sockets');
    if (sockets < count) throw new Error(`${variant.label} holds ${sockets} of ${count} ${transport} clients`);
    const after = await server.stats();
    if (!after.gcForced) context.log('warning: the server ran without --expose-gc; memory is not measured after a GC');
    await load.call('connections.close');
    return {
      heap: (after.heapUsed - before.heapUsed) / count,
      rss: (after.rss - before.rss) / count,
      connectMs: opened.ms,
    };
  });
}

export const idleMemoryScenario: Scenario = {
  id: 'idle',
  title: 'Idle connections: memory per client',
  description:
    'Server heap and RSS per connected idle client: measured after a forced GC (`--expose-gc`) before any client connects and again once all are connected, the difference divided by the number of clients. WebSocket clients speak the Socket.IO wire protocol on `ws` (the server holds exactly what it holds for socket.io-client); polling clients are `socket.io-client` with `transports: ["polling"]`. The gateway authenticates each client with a JWT; the bare server has no auth.',
  async run(context) {
    const { profile } = context;
    const failures: string[] = [];
    const notes: string[] = [];
    const variants = withGatewayVariants<Variant>(
      [{ label: BASELINE, auth: ANONYMOUS, start: bareServer }],
      [{ label: 'gateway (JWT)', auth: GATEWAY_JWT, start: jwtGateway }],
      notes,
    );
    const transports = [
      { transport: 'websocket' as const, count: profile.idleWebSocketClients },
      { transport: 'polling' as const, count: profile.idlePollingClients },
    ];
    const tables = transports.map(
      ({ transport, count }) =>
        new TableBuilder(
          `**${count} idle ${transport === 'websocket' ? 'WebSocket' : 'HTTP long-polling'} clients**`,
          BASELINE,
          METRICS,
        ),
    );
    // Each run measures every transport on every variant; a row is one (transport, variant) pair.
    const cases = transports.flatMap(({ transport, count }, index) =>
      variants.map((variant) => ({ label: `${transport}, ${variant.label}`, variant, transport, count, index })),
    );
    await forEachRun(
      context,
      'idle',
      cases,
      failures,
      async ({ variant, transport, count, index }) => {
        tables[index]!.add(variant.label, await measureIdle(context, variant, transport, count));
      },
      { describe: ({ variant, transport, count }) => `${count} ${transport} clients on ${variant.label}` },
    );
    return { tables: tables.map((table) => table.build()), notes, failures };
  },
};
