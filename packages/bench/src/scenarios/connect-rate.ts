import { withChildLogs, type ChildHandle } from '../harness/child-process.js';
import type { ServerCommands } from '../harness/ipc.js';
import { measureWindow, windowNotes } from '../harness/measure.js';
import { TableBuilder, type MetricSpec } from '../harness/table.js';
import type { AuthSpec } from '../load/auth.js';
import { BENCH_JWT_SECRET, packageExists, serverUrl, startBareServer, startGateway, startLoad } from './targets.js';
import { attempt, type Scenario, type ScenarioContext } from './types.js';

const BASELINE = 'socket.io (bare), no auth';

const METRICS: MetricSpec[] = [
  { key: 'rate', label: 'handshakes/s', unit: 'per-second' },
  { key: 'p50', label: 'handshake p50', unit: 'ms' },
  { key: 'p99', label: 'handshake p99', unit: 'ms' },
  { key: 'serverCpu', label: 'server CPU', unit: 'core-fraction', compare: false },
  { key: 'loadCpu', label: 'load CPU', unit: 'core-fraction', compare: false },
];

interface Variant {
  label: string;
  auth: AuthSpec;
  start(context: ScenarioContext): Promise<ChildHandle<ServerCommands>>;
}

export const connectRateScenario: Scenario = {
  id: 'connect',
  title: 'Connect rate',
  description:
    'Handshakes per second at saturation: a fixed number of loops each open a WebSocket, complete the Engine.IO open and the Socket.IO connect with its `auth` object, close, and start over. The gateway verifies an HS256 JWT on every handshake (the tokens are signed before the window); the bare server has no auth. Latency is per handshake under that load.',
  async run(context) {
    const { profile } = context;
    const failures: string[] = [];
    const notes: string[] = [];
    const variants: Variant[] = [{ label: BASELINE, auth: { mode: 'anonymous' }, start: (c) => startBareServer(c) }];
    if (packageExists('gateway')) {
      variants.push(
        {
          label: 'gateway, JWT',
          auth: { mode: 'jwt', secret: BENCH_JWT_SECRET },
          start: (c) => startGateway(c, { auth: 'jwt' }),
        },
        {
          label: 'gateway, anonymous',
          auth: { mode: 'anonymous' },
          start: (c) => startGateway(c, { auth: 'anonymous' }),
        },
      );
    } else notes.push('The gateway package is not written yet in this checkout: its rows are missing.');
    const table = new TableBuilder(
      `**${profile.connectConcurrency} concurrent handshake loops over WebSocket**`,
      BASELINE,
      METRICS,
    );
    for (let run = 0; run < profile.runs; run++) {
      for (const variant of variants) {
        context.log(`connect run ${run + 1}/${profile.runs}: ${variant.label}`);
        await attempt(failures, `run ${run + 1}, ${variant.label}`, async () => {
          const server = await variant.start(context);
          const load = await startLoad(context);
          try {
            await load.call('connect.start', {
              url: serverUrl(server),
              concurrency: profile.connectConcurrency,
              auth: variant.auth,
            });
            const window = await measureWindow([server], load, profile);
            await load.call('workload.stop');
            table.add(variant.label, {
              rate: window.rate,
              p50: window.load.latency?.p50,
              p99: window.load.latency?.p99,
              serverCpu: window.serverCpu[0],
              loadCpu: window.load.loadCpu,
            });
            for (const note of windowNotes(window)) table.note(variant.label, note);
          } catch (error) {
            throw withChildLogs(error, [server]);
          } finally {
            await Promise.all([load.stop(), server.stop()]);
          }
        });
      }
    }
    return { tables: [table.build()], notes, failures };
  },
};
