import { withChildLogs, type ChildHandle } from '../harness/child-process.js';
import type { ServerCommands } from '../harness/ipc.js';
import { ratio, spread } from '../harness/stats.js';
import { TableBuilder, type MetricSpec } from '../harness/table.js';
import type { LoadCommands } from '../load/commands.js';
import type { BareServerConfig } from '../servers/server-config.js';
import { startStandIn } from './brokers.js';
import { forEachRun } from './run-loop.js';
import { measureWorkload } from './server-workload.js';
import { packageExists, serverUrl, startBareServer, startLoad } from './targets.js';
import type { Scenario, ScenarioContext } from './types.js';
import { noteWindows } from './window-rows.js';

const BASELINE = '@socket.io/mongo-adapter';
const OURS = '@switchyard/mongo-adapter';

const METRICS: MetricSpec[] = [
  {
    key: 'saturated',
    label: 'broadcasts/s at saturation',
    unit: 'per-second',
    target: { kind: 'min-ratio', value: 5 },
  },
  { key: 'insertsPerBroadcast', label: 'inserts per broadcast', unit: 'count', compare: false },
  { key: 'nodesCpu', label: 'nodes CPU', unit: 'core-fraction', compare: false },
  { key: 'brokerCpu', label: 'stand-in CPU', unit: 'core-fraction', compare: false },
];

interface Variant {
  label: string;
  adapter: 'mongo-official' | 'mongo-switchyard';
  recovery: boolean;
  reference: boolean;
}

const VARIANTS: Variant[] = [
  { label: BASELINE, adapter: 'mongo-official', recovery: false, reference: true },
  { label: OURS, adapter: 'mongo-switchyard', recovery: false, reference: false },
  { label: `${OURS}, recovery on`, adapter: 'mongo-switchyard', recovery: true, reference: false },
];

export const adapterRoomsScenario: Scenario = {
  id: 'adapter-rooms',
  title: 'MongoDB adapters: many small rooms (adapter-bound)',
  description:
    "Two bare socket.io nodes on the project's MongoDB stand-in, many rooms of two members (both on node 2), one sender on node 1 (in no room, no acks) sending to the rooms in turn with a window of messages in flight (closed loop): a message leaves flight when its room's first member has it. Every broadcast crosses the broker and reaches two sockets, so socket.io's fan-out costs little and the adapter's own cost per message (the write, the change event, routing it) decides the rate. Nodes and stand-in share the server core.",
  async run(context) {
    const notes: string[] = [];
    const failures: string[] = [];
    const referenceFailures: string[] = [];
    if (!packageExists('mongo-standin') || !packageExists('mongo-adapter')) {
      return { tables: [], notes, failures, skipped: 'the MongoDB stand-in or adapter is not in this checkout' };
    }
    const rooms = context.profile.quick ? 20 : 500;
    const window = context.profile.quick ? 16 : 64;
    const table = new TableBuilder(
      `**${rooms} rooms of 2 members (on node 2; the sender on node 1), ${window} messages in flight, 100 B**`,
      BASELINE,
      METRICS,
    );
    await forEachRun(
      context,
      'adapter-rooms',
      VARIANTS,
      failures,
      (variant) => measureRooms(context, variant, rooms, window, table),
      { failuresFor: (variant) => (variant.reference ? referenceFailures : failures) },
    );
    for (const failure of referenceFailures)
      notes.push(`⚠ A reference variant failed (reported, not fatal: it is not our code): ${failure}`);
    const built = table.build();
    const official = spread(built.rows.find((row) => row.label === BASELINE)?.samples.saturated ?? []);
    for (const label of [OURS, `${OURS}, recovery on`]) {
      const r = ratio(spread(built.rows.find((row) => row.label === label)?.samples.saturated ?? []), official);
      if (r !== undefined)
        notes.push(
          `${label}: ${r.toFixed(2)}× the official adapter's saturated broadcasts/s (target ≥ 5× ${r >= 5 ? '✓' : '✗'})`,
        );
    }
    return { tables: [built], notes, failures };
  },
};

async function measureRooms(
  context: ScenarioContext,
  variant: Variant,
  rooms: number,
  window: number,
  table: TableBuilder,
): Promise<void> {
  const broker = await startStandIn(context);
  const nodes: ChildHandle<ServerCommands>[] = [];
  let load: ChildHandle<LoadCommands> | undefined;
  try {
    const config: Partial<BareServerConfig> = {
      adapter: variant.adapter,
      mongoUri: broker.url,
      mongoCollection: `bench-rooms-${variant.adapter}`,
      recovery: variant.recovery,
    };
    for (let node = 0; node < 2; node++)
      nodes.push(await startBareServer(context, config, `node${node + 1}-${variant.adapter}`));
    const started = await startLoad(context);
    load = started;
    const urls = nodes.map(serverUrl) as [string, string];
    await started.call('rooms.connect', { urls, rooms, concurrency: 50 });
    const measured = await measureWorkload(
      nodes,
      started,
      context,
      () => started.call('rooms.start', { window, bytes: 100 }),
      [{ read: () => broker.cpuMicros(), isCpuMicros: true }, { read: () => broker.inserts!() }],
    );
    table.add(variant.label, {
      saturated: measured.rate,
      insertsPerBroadcast:
        measured.load.operations > 0 ? measured.probeDeltas[1]! / measured.load.operations : undefined,
      nodesCpu: measured.serverCpu.reduce((sum, cpu) => sum + cpu, 0),
      brokerCpu: measured.probeDeltas[0]! / 1000 / Math.max(1, measured.load.durationMs),
    });
    if (variant.reference) table.reference(variant.label);
    noteWindows(table, variant.label, measured);
    await started.call('connections.close');
  } catch (error) {
    throw withChildLogs(error, nodes);
  } finally {
    await Promise.all([load?.stop(), ...nodes.map((node) => node.stop())]);
    await broker.stop();
  }
}
