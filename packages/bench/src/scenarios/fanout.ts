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

const BASELINE = 'socket.io (bare)';

interface Variant {
  label: string;
  target: 'socketio' | 'ws';
  auth: AuthSpec;
  start(context: ScenarioContext): Promise<ChildHandle<ServerCommands>>;
}

function variants(): { list: Variant[]; notes: string[] } {
  const list: Variant[] = [
    { label: BASELINE, target: 'socketio', auth: { mode: 'anonymous' }, start: (context) => startBareServer(context) },
    {
      label: 'raw ws (ceiling)',
      target: 'ws',
      auth: { mode: 'anonymous' },
      start: (context) => startWsServer(context),
    },
  ];
  const notes: string[] = [];
  if (packageExists('gateway')) {
    list.push({
      label: 'gateway (JWT, validation, history, metrics)',
      target: 'socketio',
      auth: { mode: 'jwt', secret: BENCH_JWT_SECRET },
      start: (context) => startGateway(context, { auth: 'jwt' }),
    });
  } else notes.push('The gateway package is not written yet in this checkout: its rows are missing.');
  return { list, notes };
}

const METRICS: MetricSpec[] = [
  {
    key: 'saturated',
    label: 'deliveries/s at saturation',
    unit: 'per-second',
    target: { kind: 'min-ratio', value: 0.9 },
  },
  { key: 'p50', label: 'p50 at half load', unit: 'ms' },
  { key: 'p99', label: 'p99 at half load', unit: 'ms' },
  { key: 'joinMs', label: 'time to join all members', unit: 'ms' },
  { key: 'serverCpu', label: 'server CPU (saturated)', unit: 'core-fraction', compare: false },
  { key: 'loadCpu', label: 'load CPU (saturated)', unit: 'core-fraction', compare: false },
];

/** Messages in flight at saturation: enough that the server always has the next one queued. */
function saturationWindow(members: number): number {
  return Math.min(64, Math.max(8, Math.ceil(16_000 / members)));
}

export const fanoutScenario: Scenario = {
  id: 'fanout',
  title: 'Room fan-out on one node',
  description:
    'One room, every member connected over WebSocket, one member sending. Deliveries/s at saturation (the sender keeps a few messages in flight, a message leaves flight when the member served last has it), then p50/p99 delivery latency at half load: a fixed send rate of half the bare socket.io saturated rate of the same run, latency from the intended send time of each message to each member. The gateway runs as shipped (JWT auth, schema validation, history, metrics, rate limits raised); the bare server joins the room, emits the same message object to it and acks. The raw `ws` row broadcasts the payload alone: the ceiling.',
  async run(context) {
    const { profile } = context;
    const { list, notes } = variants();
    const failures: string[] = [];
    const tables = new Map(
      profile.fanoutSizes.map((bytes) => [
        bytes,
        new TableBuilder(`**${profile.fanoutMembers} members, ${bytes} B messages**`, BASELINE, METRICS),
      ]),
    );
    for (let run = 0; run < profile.runs; run++) {
      // The baseline goes first in every run: its saturated rate sets the half-load rate for all.
      const halfRates = new Map<number, number>();
      for (const variant of list) {
        context.log(`fanout run ${run + 1}/${profile.runs}: ${variant.label}`);
        await attempt(failures, `run ${run + 1}, ${variant.label}`, async () => {
          const server = await variant.start(context);
          const load = await startLoad(context);
          try {
            const joined = await load.call('fanout.connect', {
              target: variant.target,
              urls: [serverUrl(server)],
              members: profile.fanoutMembers,
              room: 'bench-fanout',
              auth: variant.auth,
              concurrency: 50,
            });
            for (const bytes of profile.fanoutSizes) {
              const table = tables.get(bytes)!;
              await load.call('fanout.start', {
                mode: 'saturate',
                bytes,
                window: saturationWindow(profile.fanoutMembers),
              });
              const saturated = await measureWindow([server], load, profile);
              await load.call('workload.stop');
              if (!halfRates.has(bytes)) halfRates.set(bytes, Math.max(1, saturated.rate / profile.fanoutMembers / 2));
              await load.call('fanout.start', { mode: 'fixed', bytes, rate: halfRates.get(bytes) });
              const half = await measureWindow([server], load, profile);
              await load.call('workload.stop');
              if (variant.target === 'ws') table.reference(variant.label);
              table.add(variant.label, {
                saturated: saturated.rate,
                p50: half.load.latency?.p50,
                p99: half.load.latency?.p99,
                joinMs: joined.ms,
                serverCpu: saturated.serverCpu[0],
                loadCpu: saturated.load.loadCpu,
              });
              for (const note of [...windowNotes(saturated), ...windowNotes(half)]) table.note(variant.label, note);
            }
            await load.call('connections.close');
          } catch (error) {
            throw withChildLogs(error, [server]);
          } finally {
            await Promise.all([load.stop(), server.stop()]);
          }
        });
      }
      notes.push(
        `Run ${run + 1} half-load rates: ${[...halfRates].map(([bytes, rate]) => `${bytes} B: ${rate.toFixed(0)} msg/s (${Math.round(rate * profile.fanoutMembers)} deliveries/s)`).join(', ')}.`,
      );
    }
    return { tables: [...tables.values()].map((table) => table.build()), notes, failures };
  },
};
