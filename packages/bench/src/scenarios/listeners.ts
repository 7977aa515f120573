import { TableBuilder, type MetricSpec } from '../harness/table.js';
import type { AuthSpec } from '../load/auth.js';
import { measureListenerRoom } from './listener-room.js';
import { forEachRun } from './run-loop.js';
import { ANONYMOUS, GATEWAY_JWT, bareServer, withGatewayVariants } from './server-variants.js';
import { withServerAndLoad, type StartServer } from './server-workload.js';
import { startGateway } from './targets.js';
import type { Scenario } from './types.js';
import { noteWindows } from './window-rows.js';

const BARE = 'socket.io (bare), WebSocket';
const GATEWAY_WS = 'gateway, WebSocket members';
const GATEWAY_SSE = 'gateway, SSE listeners';

const MEMORY_METRICS: MetricSpec[] = [
  { key: 'heap', label: 'heap per listener', unit: 'bytes', target: { kind: 'max-ratio', value: 0.5 } },
  { key: 'rss', label: 'RSS per listener', unit: 'bytes' },
  { key: 'connectMs', label: 'time to connect and join all', unit: 'ms' },
];

const FANOUT_METRICS: MetricSpec[] = [
  {
    key: 'saturated',
    label: 'deliveries/s at saturation',
    unit: 'per-second',
    target: { kind: 'min-ratio', value: 0.9 },
  },
  { key: 'fixed', label: 'deliveries/s at the fixed rate', unit: 'per-second' },
  { key: 'p50', label: 'p50 at the fixed rate', unit: 'ms' },
  { key: 'p99', label: 'p99 at the fixed rate', unit: 'ms' },
  { key: 'serverCpu', label: 'server CPU (fixed rate)', unit: 'core-fraction', compare: false },
];

interface Variant {
  label: string;
  target: 'socketio' | 'sse';
  auth: AuthSpec;
  start: StartServer;
}

/** The gateway as shipped, with room for this many SSE streams on one node. */
const listenersGateway: StartServer = (context) =>
  startGateway(context, { auth: 'jwt', env: { SSE_MAX_STREAMS: '1000000' } });

export const listenersScenario: Scenario = {
  id: 'listeners',
  title: 'A live event: N listeners in one room, SSE and WebSocket',
  description:
    'One room with N listeners and one member sending `message:send` (100 B): listeners as Socket.IO WebSocket members on bare socket.io and on the gateway, or as SSE streams on the gateway. Heap per listener after a forced GC once all are in (the WebSocket member on the gateway is the baseline: an SSE listener should cost at most half). Then deliveries/s at saturation (a few messages in flight; bare socket.io is the baseline), and at a fixed rate of half the bare saturated rate of the same run: deliveries/s and p50/p99 from the intended send time. A large room gets counts, not per-member presence, so the listeners cost it no presence traffic.',
  async run(context) {
    const { profile } = context;
    const notes: string[] = [];
    const failures: string[] = [];
    const count = profile.listeners;
    const memory = new TableBuilder(`**${count} listeners in one room: memory**`, GATEWAY_WS, MEMORY_METRICS);
    const fanout = new TableBuilder(`**${count} listeners + 1 sender, 100 B messages**`, BARE, FANOUT_METRICS);
    const variants = withGatewayVariants<Variant>(
      [{ label: BARE, target: 'socketio', auth: ANONYMOUS, start: bareServer }],
      [
        { label: GATEWAY_WS, target: 'socketio', auth: GATEWAY_JWT, start: listenersGateway },
        { label: GATEWAY_SSE, target: 'sse', auth: GATEWAY_JWT, start: listenersGateway },
      ],
      notes,
    );
    memory.reference(BARE);
    fanout.reference(GATEWAY_SSE);
    // The bare row goes first in every run: its saturated rate sets the fixed rate of all.
    let fixedRate: number | undefined;
    await forEachRun(
      context,
      'listeners',
      variants,
      failures,
      (variant) =>
        withServerAndLoad(context, variant.start, async (server, load) => {
          const {
            memory: perMember,
            saturated,
            fixed,
          } = await measureListenerRoom(server, load, context, {
            target: variant.target,
            auth: variant.auth,
            room: 'bench-listeners',
            listeners: count,
            connectTimeoutMs: 600_000,
            settleMs: profile.quick ? 300 : 1_500,
            fixedRate: (deliveries) => (fixedRate ??= Math.max(1, deliveries / (count + 1) / 2)),
          });
          memory.add(variant.label, perMember);
          fanout.add(variant.label, {
            saturated: saturated.rate,
            fixed: fixed.rate,
            p50: fixed.load.latency?.p50,
            p99: fixed.load.latency?.p99,
            serverCpu: fixed.serverCpu[0],
          });
          noteWindows(fanout, variant.label, saturated, fixed);
        }),
      {
        afterRun: (run) => {
          if (fixedRate !== undefined)
            notes.push(
              `Run ${run + 1} fixed rate: ${fixedRate.toFixed(1)} msg/s (${Math.round(fixedRate * (count + 1))} deliveries/s offered).`,
            );
          fixedRate = undefined;
        },
      },
    );
    notes.push(
      'Targets: the WebSocket room on the gateway delivers at least 0.9× what bare socket.io does at saturation; an SSE listener costs at most 0.5× the heap of a WebSocket member on the gateway. The bare row of the memory table and the SSE row of the fan-out table are shown for reference.',
    );
    return { tables: [memory.build(), fanout.build()], notes, failures };
  },
};
