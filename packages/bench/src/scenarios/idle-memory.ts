import { withChildLogs, type ChildHandle } from '../harness/child-process.js';
import type { ServerCommands } from '../harness/ipc.js';
import { sleep } from '../harness/measure.js';
import { TableBuilder, type MetricSpec } from '../harness/table.js';
import type { AuthSpec } from '../load/auth.js';
import { BENCH_JWT_SECRET, packageExists, serverUrl, startBareServer, startGateway, startLoad } from './targets.js';
import { attempt, type Scenario, type ScenarioContext } from './types.js';

const BASELINE = 'socket.io (bare)';

const METRICS: MetricSpec[] = [
  { key: 'heap', label: 'heap per client', unit: 'bytes', target: { kind: 'max-ratio', value: 1.1 } },
  { key: 'rss', label: 'RSS per client', unit: 'bytes', target: { kind: 'max-ratio', value: 1.1 } },
  { key: 'connectMs', label: 'time to connect all', unit: 'ms', compare: false },
];

interface Variant {
  label: string;
  auth: AuthSpec;
  start(context: ScenarioContext): Promise<ChildHandle<ServerCommands>>;
}

/** Server memory after a forced GC, before and after `count` idle clients connect, divided by `count`. */
async function measureIdle(
  context: ScenarioContext,
  variant: Variant,
  transport: 'websocket' | 'polling',
  count: number,
) {
  const server = await variant.start(context);
  const load = await startLoad(context);
  try {
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
  } catch (error) {
    throw withChildLogs(error, [server]);
  } finally {
    await Promise.all([load.stop(), server.stop()]);
  }
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
    const variants: Variant[] = [{ label: BASELINE, auth: { mode: 'anonymous' }, start: (c) => startBareServer(c) }];
    if (packageExists('gateway')) {
      variants.push({
        label: 'gateway (JWT)',
        auth: { mode: 'jwt', secret: BENCH_JWT_SECRET },
        start: (c) => startGateway(c, { auth: 'jwt' }),
      });
    } else notes.push('The gateway package is not written yet in this checkout: its rows are missing.');
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
    for (let run = 0; run < profile.runs; run++) {
      for (const [index, { transport, count }] of transports.entries()) {
        for (const variant of variants) {
          context.log(`idle run ${run + 1}/${profile.runs}: ${count} ${transport} clients on ${variant.label}`);
          await attempt(failures, `run ${run + 1}, ${transport}, ${variant.label}`, async () => {
            tables[index]!.add(variant.label, await measureIdle(context, variant, transport, count));
          });
        }
      }
    }
    return { tables: tables.map((table) => table.build()), notes, failures };
  },
};
