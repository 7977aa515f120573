import { withChildLogs, type ChildHandle } from '../harness/child-process.js';
import type { ServerCommands } from '../harness/ipc.js';
import { measureWindow, windowNotes } from '../harness/measure.js';
import { TableBuilder, type MetricSpec } from '../harness/table.js';
import type { AuthSpec } from '../load/auth.js';
import { BENCH_JWT_SECRET, packageExists, serverUrl, startBareServer, startGateway, startLoad } from './targets.js';
import { attempt, type Scenario, type ScenarioContext } from './types.js';

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
  start(context: ScenarioContext): Promise<ChildHandle<ServerCommands>>;
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
    const anonymous: AuthSpec = { mode: 'anonymous' };
    const jwt: AuthSpec = { mode: 'jwt', secret: BENCH_JWT_SECRET };
    const variants: Variant[] = [
      { label: BASELINE, transport: 'websocket', auth: anonymous, start: (c) => startBareServer(c) },
      { label: 'socket.io (bare), polling', transport: 'polling', auth: anonymous, start: (c) => startBareServer(c) },
    ];
    if (packageExists('gateway')) {
      variants.push(
        {
          label: 'gateway (JWT), WebSocket',
          transport: 'websocket',
          auth: jwt,
          start: (c) => startGateway(c, { auth: 'jwt' }),
        },
        {
          label: 'gateway (JWT), polling',
          transport: 'polling',
          auth: jwt,
          start: (c) => startGateway(c, { auth: 'jwt' }),
        },
      );
    } else notes.push('The gateway package is not written yet in this checkout: its rows are missing.');
    const table = new TableBuilder(
      `**${profile.ackClients} clients, ${profile.ackRate} messages/s in total, 100 B messages**`,
      BASELINE,
      METRICS,
    );
    for (let run = 0; run < profile.runs; run++) {
      for (const variant of variants) {
        context.log(`ack run ${run + 1}/${profile.runs}: ${variant.label}`);
        await attempt(failures, `run ${run + 1}, ${variant.label}`, async () => {
          const server = await variant.start(context);
          const load = await startLoad(context);
          try {
            await load.call('ack.connect', {
              url: serverUrl(server),
              clients: profile.ackClients,
              transport: variant.transport,
              auth: variant.auth,
            });
            await load.call('ack.start', { rate: profile.ackRate, bytes: 100 });
            const window = await measureWindow([server], load, profile);
            await load.call('workload.stop');
            await load.call('connections.close');
            table.add(variant.label, {
              p50: window.load.latency?.p50,
              p99: window.load.latency?.p99,
              max: window.load.latency?.max,
              serverCpu: window.serverCpu[0],
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
