import { TableBuilder, type MetricSpec } from '../harness/table.js';
import { authFactory } from '../load/auth.js';
import { measureListenerRoom } from './listener-room.js';
import { forEachRun } from './run-loop.js';
import { GATEWAY_JWT, jwtGateway } from './server-variants.js';
import { withServerAndLoad } from './server-workload.js';
import { packageExists, serverUrl } from './targets.js';
import type { Scenario, ScenarioContext } from './types.js';
import { noteWindows } from './window-rows.js';

const WEBSOCKET = 'Socket.IO over WebSocket';
const SSE = 'Server-Sent Events';

const MEMORY_METRICS: MetricSpec[] = [
  { key: 'heap', label: 'heap per listener', unit: 'bytes' },
  { key: 'rss', label: 'RSS per listener', unit: 'bytes' },
  { key: 'connectMs', label: 'time to connect and join all', unit: 'ms' },
];

const FANOUT_METRICS: MetricSpec[] = [
  { key: 'saturated', label: 'deliveries/s at saturation', unit: 'per-second' },
  { key: 'p50', label: 'p50 at half load', unit: 'ms' },
  { key: 'p99', label: 'p99 at half load', unit: 'ms' },
  { key: 'serverCpu', label: 'server CPU (saturated)', unit: 'core-fraction', compare: false },
  { key: 'loadCpu', label: 'load CPU (saturated)', unit: 'core-fraction', compare: false },
];

/** Whether the gateway serves `GET /v1/rooms/:room/events`: a 404 means the SSE route is not written yet. */
async function probeSse(context: ScenarioContext): Promise<'ready' | 'missing'> {
  const gateway = await jwtGateway(context);
  try {
    const token = (await authFactory(GATEWAY_JWT, 1))(0).token as string;
    const abort = new AbortController();
    const response = await fetch(`${serverUrl(gateway)}/v1/rooms/probe/events`, {
      headers: { accept: 'text/event-stream', authorization: `Bearer ${token}` },
      signal: abort.signal,
    });
    abort.abort();
    if (response.status === 404) return 'missing';
    const type = response.headers.get('content-type') ?? '';
    if (response.status !== 200 || !type.startsWith('text/event-stream')) {
      throw new Error(`GET /v1/rooms/probe/events answered ${response.status} ${type}`);
    }
    return 'ready';
  } finally {
    await gateway.stop();
  }
}

export const sseScenario: Scenario = {
  id: 'sse',
  title: 'Receive-only clients: Server-Sent Events against WebSocket',
  description:
    'The same number of listeners in one room on the gateway (JWT auth), as `GET /v1/rooms/:room/events` SSE subscribers or as Socket.IO WebSocket clients that joined the room (the baseline). Memory per listener is measured as in the idle scenario, once every listener is in and before any message; then fan-out as in the fan-out scenario, with one Socket.IO member sending `message:send` and the half-load rate set by the WebSocket baseline of the same run. SSE chunks are scanned for the message markers, split events included.',
  async run(context) {
    const { profile } = context;
    const notes: string[] = [];
    const failures: string[] = [];
    if (!packageExists('gateway'))
      return { tables: [], notes, failures, skipped: 'the gateway package is not written yet in this checkout' };
    if ((await probeSse(context)) === 'missing') {
      return {
        tables: [],
        notes,
        failures,
        skipped: 'the gateway does not serve `GET /v1/rooms/:room/events` yet (404)',
      };
    }
    const count = profile.sseSubscribers;
    const memory = new TableBuilder(`**${count} idle listeners in one room**`, WEBSOCKET, MEMORY_METRICS);
    const fanout = new TableBuilder(`**${count} listeners + 1 sender, 100 B messages**`, WEBSOCKET, FANOUT_METRICS);
    const variants = [
      { label: WEBSOCKET, transport: 'websocket' as const, target: 'socketio' as const },
      { label: SSE, transport: 'sse' as const, target: 'sse' as const },
    ];
    const runs = Math.min(profile.runs, profile.sseRuns);
    if (runs < profile.runs) {
      notes.push(`${runs} run(s) instead of ${profile.runs} (the profile's sseRuns).`);
    }
    // The WebSocket row goes first in every run: its saturated rate sets the half-load rate for both.
    let halfRate: number | undefined;
    await forEachRun(
      context,
      'sse',
      variants,
      failures,
      (variant) =>
        withServerAndLoad(context, jwtGateway, async (server, load) => {
          // One set of listeners serves both figures: memory once they are all in, then fan-out to them.
          const {
            memory: perMember,
            saturated,
            fixed: half,
          } = await measureListenerRoom(server, load, context, {
            target: variant.target,
            auth: GATEWAY_JWT,
            room: 'bench-sse',
            listeners: count,
            connectTimeoutMs: 300_000,
            settleMs: profile.quick ? 200 : 1_000,
            fixedRate: (deliveries) => (halfRate ??= Math.max(1, deliveries / (count + 1) / 2)),
          });
          memory.add(variant.label, perMember);
          fanout.add(variant.label, {
            saturated: saturated.rate,
            p50: half.load.latency?.p50,
            p99: half.load.latency?.p99,
            serverCpu: saturated.serverCpu[0],
            loadCpu: saturated.load.loadCpu,
          });
          noteWindows(fanout, variant.label, saturated, half);
        }),
      {
        runs,
        afterRun: () => {
          halfRate = undefined;
        },
      },
    );
    return { tables: [memory.build(), fanout.build()], notes, failures };
  },
};
