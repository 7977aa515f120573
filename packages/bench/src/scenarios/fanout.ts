import { TableBuilder, type MetricSpec } from '../harness/table.js';
import type { AuthSpec } from '../load/auth.js';
import { forEachRun } from './run-loop.js';
import { saturationWindow } from './saturation-window.js';
import { ANONYMOUS, GATEWAY_JWT, bareServer, jwtGateway, withGatewayVariants, wsServer } from './server-variants.js';
import { measureWorkload, withServerAndLoad, type StartServer } from './server-workload.js';
import { serverUrl } from './targets.js';
import type { Scenario } from './types.js';
import { noteWindows } from './window-rows.js';

const BASELINE = 'socket.io (bare)';

interface Variant {
  label: string;
  target: 'socketio' | 'ws';
  auth: AuthSpec;
  start: StartServer;
}

function variants(): { list: Variant[]; notes: string[] } {
  const notes: string[] = [];
  const list = withGatewayVariants<Variant>(
    [
      { label: BASELINE, target: 'socketio', auth: ANONYMOUS, start: bareServer },
      { label: 'raw ws (ceiling)', target: 'ws', auth: ANONYMOUS, start: wsServer },
    ],
    [
      {
        label: 'gateway (JWT, validation, history, metrics)',
        target: 'socketio',
        auth: GATEWAY_JWT,
        start: jwtGateway,
      },
    ],
    notes,
  );
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
    // The baseline goes first in every run: its saturated rate sets the half-load rate for all.
    const halfRates = new Map<number, number>();
    await forEachRun(
      context,
      'fanout',
      list,
      failures,
      (variant) =>
        withServerAndLoad(context, variant.start, async (server, load) => {
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
            const saturated = await measureWorkload([server], load, context, () =>
              load.call('fanout.start', { mode: 'saturate', bytes, window: saturationWindow(profile.fanoutMembers) }),
            );
            if (!halfRates.has(bytes)) halfRates.set(bytes, Math.max(1, saturated.rate / profile.fanoutMembers / 2));
            const half = await measureWorkload([server], load, context, () =>
              load.call('fanout.start', { mode: 'fixed', bytes, rate: halfRates.get(bytes) }),
            );
            if (variant.target === 'ws') table.reference(variant.label);
            table.add(variant.label, {
              saturated: saturated.rate,
              p50: half.load.latency?.p50,
              p99: half.load.latency?.p99,
              joinMs: joined.ms,
              serverCpu: saturated.serverCpu[0],
              loadCpu: saturated.load.loadCpu,
            });
            noteWindows(table, variant.label, saturated, half);
          }
          await load.call('connections.close');
        }),
      {
        afterRun: (run) => {
          notes.push(
            `Run ${run + 1} half-load rates: ${[...halfRates].map(([bytes, rate]) => `${bytes} B: ${rate.toFixed(0)} msg/s (${Math.round(rate * profile.fanoutMembers)} deliveries/s)`).join(', ')}.`,
          );
          halfRates.clear();
        },
      },
    );
    return { tables: [...tables.values()].map((table) => table.build()), notes, failures };
  },
};
