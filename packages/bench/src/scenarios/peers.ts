import { withChildLogs, type ChildHandle } from '../harness/child-process.js';
import type { ServerCommands } from '../harness/ipc.js';
import type { LoadCommands } from '../load/commands.js';
import type { MeasuredWindow } from '../harness/measure.js';
import { ratio, spread } from '../harness/stats.js';
import { TableBuilder, type MetricSpec, type ResultTable } from '../harness/table.js';
import type { BareServerConfig } from '../servers/server-config.js';
import { ensureRedisServer, startRedis, startStandIn, type Broker } from './brokers.js';
import { forEachRun } from './run-loop.js';
import { saturationWindow } from './saturation-window.js';
import { measureWorkload } from './server-workload.js';
import { packageExists, serverUrl, startBareServer, startLoad } from './targets.js';
import type { Scenario, ScenarioContext } from './types.js';
import { noteWindows } from './window-rows.js';

const BASELINE = 'one node, in-memory adapter';

const METRICS: MetricSpec[] = [
  { key: 'saturated', label: 'deliveries/s at saturation', unit: 'per-second' },
  { key: 'remoteP50', label: 'remote p50 at half load', unit: 'ms' },
  { key: 'remoteP99', label: 'remote p99 at half load', unit: 'ms' },
  { key: 'localP99', label: 'local p99 at half load', unit: 'ms', compare: false },
  { key: 'cpuPer1000', label: 'CPU per 1,000 deliveries (nodes + broker)', unit: 'ms' },
  { key: 'insertsPerBroadcast', label: 'inserts per broadcast', unit: 'count', compare: false },
];

interface Variant {
  label: string;
  /** A third-party reference (Redis, the official MongoDB adapter): its failure is reported, not fatal. */
  reference?: boolean;
  nodes: number;
  adapter: BareServerConfig['adapter'];
  startBroker?(context: ScenarioContext): Promise<Broker>;
}

function plan(context: ScenarioContext): { variants: Variant[]; notes: string[] } {
  const notes: string[] = [];
  const variants: Variant[] = [{ label: BASELINE, nodes: 1, adapter: 'memory' }];
  if (context.profile.quick)
    notes.push('Quick run: the Redis peer is skipped (it installs redis-server); it runs in full runs.');
  else {
    const missing = ensureRedisServer(context.log);
    if (missing) notes.push(`The Redis peer is skipped: ${missing}.`);
    else
      variants.push({
        label: '@socket.io/redis-adapter, 2 nodes (Redis)',
        nodes: 2,
        adapter: 'redis',
        startBroker: startRedis,
      });
  }
  if (!packageExists('mongo-standin'))
    notes.push('The MongoDB stand-in is not written yet in this checkout: the MongoDB adapter rows are missing.');
  else {
    variants.push({
      label: '@socket.io/mongo-adapter, 2 nodes (stand-in)',
      nodes: 2,
      adapter: 'mongo-official',
      startBroker: startStandIn,
    });
    if (packageExists('mongo-adapter')) {
      variants.push({
        label: '@switchyard/mongo-adapter, 2 nodes (stand-in)',
        nodes: 2,
        adapter: 'mongo-switchyard',
        startBroker: startStandIn,
      });
    } else notes.push('`@switchyard/mongo-adapter` is not written yet in this checkout: its row is missing.');
  }
  return { variants, notes };
}

export const peersScenario: Scenario = {
  id: 'peers',
  title: 'Cross-node fan-out: adapters side by side',
  description:
    "The fan-out workload across two bare socket.io nodes joined by a cluster adapter, against one node holding every member with socket.io's in-memory adapter (the baseline). Members alternate between the nodes; the sender is on node 1 and the member served last (the tracker) on node 2, so every message crosses the broker. Deliveries/s at saturation, then p50/p99 at half of each variant's own saturated rate, for members on the other node (remote) and on the sender's node (local). CPU per 1,000 deliveries adds up both nodes and the broker (Redis, or the project's MongoDB stand-in, which plays MongoDB here: its costs are not a real server's). Inserts per broadcast count the insert commands the stand-in received per message sent. Nodes and broker share the server core; the load generator has the other.",
  async run(context) {
    const { profile } = context;
    const { variants, notes } = plan(context);
    const failures: string[] = [];
    const referenceFailures: string[] = [];
    const members = profile.peerMembersPerNode * 2;
    const table = new TableBuilder(`**${members} members in one room, 100 B messages**`, BASELINE, METRICS);
    await forEachRun(
      context,
      'peers',
      variants,
      failures,
      (variant) => measurePeers(context, variant, members, table),
      {
        failuresFor: (variant) => (variant.reference ? referenceFailures : failures),
      },
    );
    notes.push('On the baseline row every member is on the one node, so its "remote" latency is its only latency.');
    if (!profile.quick && members < profile.fanoutMembers) {
      notes.push(
        `${members} members rather than the single-node fan-out's ${profile.fanoutMembers}: four variants × ${profile.runs} runs must fit the full run in about 15 minutes on 2 cores.`,
      );
    }
    for (const failure of referenceFailures)
      notes.push(`⚠ A reference variant failed (reported, not fatal: it is not our code): ${failure}`);
    const built = table.build();
    notes.push(...adapterTargets(built));
    return { tables: [built], notes, failures };
  },
};

/** One variant's row: its broker and nodes up, members spread over the nodes, saturation then half load. */
async function measurePeers(
  context: ScenarioContext,
  variant: Variant,
  members: number,
  table: TableBuilder,
): Promise<void> {
  const broker = await variant.startBroker?.(context);
  const nodes: ChildHandle<ServerCommands>[] = [];
  let load: ChildHandle<LoadCommands> | undefined;
  try {
    const config: Partial<BareServerConfig> = {
      adapter: variant.adapter,
      ...(variant.adapter === 'redis' ? { redisUrl: broker?.url } : {}),
      ...(variant.adapter.startsWith('mongo')
        ? { mongoUri: broker?.url, mongoCollection: `bench-${variant.adapter}` }
        : {}),
    };
    // One at a time: the first node creates the shared collection.
    for (let node = 0; node < variant.nodes; node++)
      nodes.push(await startBareServer(context, config, `node${node + 1}-${variant.adapter}`));
    const started = await startLoad(context);
    load = started;
    await started.call('fanout.connect', {
      target: 'socketio',
      urls: nodes.map(serverUrl),
      members,
      room: 'bench-peers',
      auth: { mode: 'anonymous' },
      concurrency: 50,
    });
    const probes = broker
      ? [
          { read: () => broker.cpuMicros(), isCpuMicros: true },
          ...(broker.inserts ? [{ read: () => broker.inserts!() }] : []),
        ]
      : [];
    const saturated = await measureWorkload(
      nodes,
      started,
      context,
      () => started.call('fanout.start', { mode: 'saturate', bytes: 100, window: saturationWindow(members) }),
      probes,
    );
    const half = await measureWorkload(
      nodes,
      started,
      context,
      () =>
        started.call('fanout.start', { mode: 'fixed', bytes: 100, rate: Math.max(1, saturated.rate / members / 2) }),
      probes,
    );
    const cpuMs = totalCpuMs(saturated);
    table.add(variant.label, {
      saturated: saturated.rate,
      remoteP50: variant.nodes > 1 ? half.load.remoteLatency?.p50 : half.load.latency?.p50,
      remoteP99: variant.nodes > 1 ? half.load.remoteLatency?.p99 : half.load.latency?.p99,
      localP99: half.load.latency?.p99,
      cpuPer1000: saturated.load.operations > 0 ? (cpuMs / saturated.load.operations) * 1000 : undefined,
      insertsPerBroadcast:
        broker?.inserts && saturated.load.sent > 0 ? saturated.probeDeltas[1]! / saturated.load.sent : undefined,
    });
    noteWindows(table, variant.label, saturated, half);
    await started.call('connections.close');
  } catch (error) {
    throw withChildLogs(error, nodes);
  } finally {
    await Promise.all([load?.stop(), ...nodes.map((node) => node.stop())]);
    await broker?.stop();
  }
}

/** Issue 4's targets compare our adapter with the official one, not with the baseline: spelled out here. */
function adapterTargets(table: ResultTable): string[] {
  const ours = table.rows.find((row) => row.label.startsWith('@switchyard/mongo-adapter'));
  const official = table.rows.find((row) => row.label.startsWith('@socket.io/mongo-adapter'));
  if (!ours) return [];
  const notes: string[] = [];
  const throughput = ratio(spread(ours.samples.saturated ?? []), spread(official?.samples.saturated ?? []));
  if (throughput !== undefined) {
    notes.push(
      `@switchyard/mongo-adapter saturated throughput is ${throughput.toFixed(2)}× the official adapter's (target ≥ 3× ${throughput >= 3 ? '✓' : '✗'}).`,
    );
  }
  const remote = spread(ours.samples.remoteP99 ?? []);
  const local = spread(ours.samples.localP99 ?? []);
  if (remote && local) {
    const gap = remote.median - local.median;
    notes.push(
      `@switchyard/mongo-adapter remote p99 − local p99 at half load: ${gap.toFixed(2)} ms (target ≤ 2 ms ${gap <= 2 ? '✓' : '✗'}).`,
    );
  }
  return notes;
}

/** CPU ms the nodes and the broker used in the window. */
function totalCpuMs(window: MeasuredWindow): number {
  const nodesMs = window.serverCpu.reduce((sum, fraction) => sum + fraction * window.load.durationMs, 0);
  const brokerMs = window.probeDeltas.length > 0 ? window.probeDeltas[0]! / 1000 : 0;
  return nodesMs + brokerMs;
}
