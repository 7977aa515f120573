import { TableBuilder, type MetricSpec } from '../harness/table.js';
import type { AuthSpec } from '../load/auth.js';
import { forEachRun } from './run-loop.js';
import { ANONYMOUS, GATEWAY_JWT, bareServer, jwtGateway, withGatewayVariants } from './server-variants.js';
import { measureServerWorkload, type StartServer } from './server-workload.js';
import type { Scenario } from './types.js';
import { noteWindows } from './window-rows.js';

const BASELINE = 'socket.io (bare), WebSocket';

const METRICS: MetricSpec[] = [
  { key: 'p50', label: 'ack p50', unit: 'ms' },
  { key: 'p99', label: 'ack p99', unit: 'ms' },
  { key: 'max', label: 'ack max', unit: 'ms', compare: false },
  { key: 'serverCpu', label: 'server CPU', unit: 'core-fraction', compare: false },
];

interface Variant {
  label: string;
  transport: 'websocket' | 'polling';
  auth: AuthSpec;
  start: StartServer;
}

export const ackLatencyScenario: Scenario = {
  id: 'ack',
  title: 'Chat round trip: `message:send` ack latency',
  description:
    "Real `socket.io-client` sockets, each in a room of its own, send `message:send` at a fixed total rate (open loop, round-robin over the sockets); latency runs from each message's intended send time to its ack, so a stall counts in full (no coordinated omission). WebSocket against HTTP long-polling, on the gateway and on the bare server (which acks after emitting to the room).",
  async run(context) {
    const { profile } = context;
    const failures: string[] = [];
    const notes: string[] = [];
    const variants = withGatewayVariants<Variant>(
      [
        { label: BASELINE, transport: 'websocket', auth: ANONYMOUS, start: bareServer },
        { label: 'socket.io (bare), polling', transport: 'polling', auth: ANONYMOUS, start: bareServer },
      ],
      [
        { label: 'gateway (JWT), WebSocket', transport: 'websocket', auth: GATEWAY_JWT, start: jwtGateway },
        { label: 'gateway (JWT), polling', transport: 'polling', auth: GATEWAY_JWT, start: jwtGateway },
      ],
      notes,
    );
    const table = new TableBuilder(
      `**${profile.ackClients} clients, ${profile.ackRate} messages/s in total, 100 B messages**`,
      BASELINE,
      METRICS,
    );
    await forEachRun(context, 'ack', variants, failures, (variant) =>
      measureServerWorkload(
        context,
        variant.start,
        {
          start: async (load, url) => {
            await load.call('ack.connect', {
              url,
              clients: profile.ackClients,
              transport: variant.transport,
              auth: variant.auth,
            });
            await load.call('ack.start', { rate: profile.ackRate, bytes: 100 });
          },
          // The ack clients are real sockets that outlive the workload: close them before the row is written.
          closeConnections: true,
        },
        (window) => {
          table.add(variant.label, {
            p50: window.load.latency?.p50,
            p99: window.load.latency?.p99,
            max: window.load.latency?.max,
            serverCpu: window.serverCpu[0],
          });
          noteWindows(table, variant.label, window);
        },
      ),
    );
    return { tables: [table.build()], notes, failures };
  },
};
