import { withChildLogs, type ChildHandle } from '../harness/child-process.js';
import type { ServerCommands } from '../harness/ipc.js';
import { measureWindow, windowNotes } from '../harness/measure.js';
import { TableBuilder, type MetricSpec } from '../harness/table.js';
import type { AuthSpec } from '../load/auth.js';
import {
  BENCH_JWT_SECRET,
  packageExists,
  serverUrl,
  startBareServer,
  startGateway,
  startLoad,
  startWsServer,
} from './targets.js';
import { attempt, type Scenario, type ScenarioContext } from './types.js';

const BASELINE = 'raw ws echo (ceiling)';

const METRICS: MetricSpec[] = [
  { key: 'rate', label: 'round trips/s', unit: 'per-second' },
  { key: 'p50', label: 'p50', unit: 'ms' },
  { key: 'p99', label: 'p99', unit: 'ms' },
  { key: 'serverCpu', label: 'server CPU', unit: 'core-fraction', compare: false },
  { key: 'loadCpu', label: 'load CPU', unit: 'core-fraction', compare: false },
];

interface Variant {
  label: string;
  kind: 'ws' | 'socketio';
  auth: AuthSpec;
  start(context: ScenarioContext): Promise<ChildHandle<ServerCommands>>;
}

export const ceilingScenario: Scenario = {
  id: 'ceiling',
  title: 'The ceiling: raw `ws` against each layer',
  description:
    'Round trips per second at saturation, each client keeping a few requests in flight (closed loop, so the latency here is service time under full load, not an open-loop percentile). Raw `ws` echoes a 100 B frame: no protocol at all, the limit of this machine. Socket.IO rows send `message:send` to a room holding only the sender and count the ack (the server also emits `message:new` back), so they include the Engine.IO/Socket.IO framing, the room emit and, for the gateway, auth, validation, rate limiting, history and metrics. The fan-out ceiling is the raw `ws` row of the fan-out tables above.',
  async run(context) {
    const { profile } = context;
    const failures: string[] = [];
    const notes: string[] = [];
    const variants: Variant[] = [
      { label: BASELINE, kind: 'ws', auth: { mode: 'anonymous' }, start: (c) => startWsServer(c) },
      { label: 'socket.io (bare)', kind: 'socketio', auth: { mode: 'anonymous' }, start: (c) => startBareServer(c) },
    ];
    if (packageExists('gateway')) {
      variants.push({
        label: 'gateway (JWT)',
        kind: 'socketio',
        auth: { mode: 'jwt', secret: BENCH_JWT_SECRET },
        start: (c) => startGateway(c, { auth: 'jwt' }),
      });
    } else notes.push('The gateway package is not written yet in this checkout: its rows are missing.');
    const table = new TableBuilder(
      `**${profile.echoClients} clients × ${profile.echoWindow} in flight, 100 B**`,
      BASELINE,
      METRICS,
    );
    for (let run = 0; run < profile.runs; run++) {
      for (const variant of variants) {
        context.log(`ceiling run ${run + 1}/${profile.runs}: ${variant.label}`);
        await attempt(failures, `run ${run + 1}, ${variant.label}`, async () => {
          const server = await variant.start(context);
          const load = await startLoad(context);
          try {
            await load.call('echo.start', {
              url: serverUrl(server),
              kind: variant.kind,
              clients: profile.echoClients,
              window: profile.echoWindow,
              bytes: 100,
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
