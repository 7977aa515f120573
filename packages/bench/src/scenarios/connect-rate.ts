import { TableBuilder, type MetricSpec } from '../harness/table.js';
import type { AuthSpec } from '../load/auth.js';
import {
  ANONYMOUS,
  GATEWAY_JWT,
  anonymousGateway,
  bareServer,
  jwtGateway,
  withGatewayVariants,
} from './server-variants.js';
import { forEachRun } from './run-loop.js';
import { measureServerWorkload, type StartServer } from './server-workload.js';
import type { Scenario } from './types.js';
import { noteWindows, throughputCells } from './window-rows.js';

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
  start: StartServer;
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
    const variants = withGatewayVariants<Variant>(
      [{ label: BASELINE, auth: ANONYMOUS, start: bareServer }],
      [
        { label: 'gateway, JWT', auth: GATEWAY_JWT, start: jwtGateway },
        { label: 'gateway, anonymous', auth: ANONYMOUS, start: anonymousGateway },
      ],
      notes,
    );
    const table = new TableBuilder(
      `**${profile.connectConcurrency} concurrent handshake loops over WebSocket**`,
      BASELINE,
      METRICS,
    );
    await forEachRun(context, 'connect', variants, failures, (variant) =>
      measureServerWorkload(
        context,
        variant.start,
        {
          start: (load, url) =>
            load.call('connect.start', { url, concurrency: profile.connectConcurrency, auth: variant.auth }),
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
