import { TableBuilder, type MetricSpec } from '../harness/table.js';
import type { AuthSpec } from '../load/auth.js';
import { forEachRun } from './run-loop.js';
import { ANONYMOUS, GATEWAY_JWT, bareServer, jwtGateway, withGatewayVariants, wsServer } from './server-variants.js';
import { measureServerWorkload, type StartServer } from './server-workload.js';
import type { Scenario } from './types.js';
import { noteWindows, throughputCells } from './window-rows.js';

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
  start: StartServer;
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
    const variants = withGatewayVariants<Variant>(
      [
        { label: BASELINE, kind: 'ws', auth: ANONYMOUS, start: wsServer },
        { label: 'socket.io (bare)', kind: 'socketio', auth: ANONYMOUS, start: bareServer },
      ],
      [{ label: 'gateway (JWT)', kind: 'socketio', auth: GATEWAY_JWT, start: jwtGateway }],
      notes,
    );
    const table = new TableBuilder(
      `**${profile.echoClients} clients × ${profile.echoWindow} in flight, 100 B**`,
      BASELINE,
      METRICS,
    );
    await forEachRun(context, 'ceiling', variants, failures, (variant) =>
      measureServerWorkload(
        context,
        variant.start,
        {
          start: (load, url) =>
            load.call('echo.start', {
              url,
              kind: variant.kind,
              clients: profile.echoClients,
              window: profile.echoWindow,
              bytes: 100,
              auth: variant.auth,
            }),
        },
        (window) => {
          table.add(variant.label, throughputCells(window));
          noteWindows(table, variant.label, window);
        },
      ),
    );
    return { tables: [table.build()], notes, failures };
  },
};
