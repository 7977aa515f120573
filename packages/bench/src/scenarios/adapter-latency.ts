import { withChildLogs, type ChildHandle } from '../harness/child-process.js';
import type { ServerCommands } from '../harness/ipc.js';
import type { MeasuredWindow } from '../harness/measure.js';
import { ratio, spread } from '../harness/stats.js';
import { TableBuilder, type MetricSpec, type ResultTable } from '../harness/table.js';
import type { LoadCommands } from '../load/commands.js';
import type { BareServerConfig } from '../servers/server-config.js';
import { startStandIn } from './brokers.js';
import { forEachRun } from './run-loop.js';
import { measureWorkload } from './server-workload.js';
import { packageExists, serverUrl, startBareServer, startLoad } from './targets.js';
import type { Scenario, ScenarioContext } from './types.js';
import { noteWindows } from './window-rows.js';

const OFFICIAL = '@socket.io/mongo-adapter';
const OURS = '@switchyard/mongo-adapter';
const BASELINE = `${OFFICIAL}, recovery off`;

const METRICS: MetricSpec[] = [
  { key: 'localP50', label: 'local p50', unit: 'ms' },
  { key: 'localP99', label: 'local p99', unit: 'ms' },
  { key: 'remoteP50', label: 'remote p50', unit: 'ms' },
  { key: 'remoteP99', label: 'remote p99', unit: 'ms' },
  { key: 'delivered', label: 'delivered / offered', unit: 'count', compare: false },
  { key: 'nodesCpu', label: 'nodes CPU', unit: 'core-fraction', compare: false },
  { key: 'brokerCpu', label: 'stand-in CPU', unit: 'core-fraction', compare: false },
];

/** Below this share of the offered deliveries in a window, the variant could not keep up: saturated. */
const KEPT_UP = 0.95;
/** A median above this on one machine's loopback is a queue, not a latency: saturated (or catching up). */
const QUEUEING_MS = 100;

interface Variant {
  label: string;
  adapter: 'mongo-official' | 'mongo-switchyard';
  recovery: boolean;
  membersPerNode: number;
  reference: boolean;
}

interface Plan {
  rates: number[];
  sizes: number[];
}

/** `BENCH_ADAPTER_RATES` / `BENCH_ADAPTER_SIZES` (comma-separated) narrow a full run, to study one cell. */
function plan(quick: boolean): Plan {
  const list = (name: string) =>
    process.env[name]
      ?.split(',')
      .map(Number)
      .filter((n) => Number.isInteger(n) && n > 0);
  const full = { rates: [20, 200, 1000], sizes: [10, 100] };
  if (quick) return { rates: [200], sizes: [10] };
  return { rates: list('BENCH_ADAPTER_RATES') ?? full.rates, sizes: list('BENCH_ADAPTER_SIZES') ?? full.sizes };
}

function rowLabel(adapter: Variant['adapter'], recovery: boolean): string {
  return `${adapter === 'mongo-official' ? OFFICIAL : OURS}, recovery ${recovery ? 'on' : 'off'}`;
}

function tableKey(size: number, rate: number): string {
  return `${size}/${rate}`;
}

export const adapterLatencyScenario: Scenario = {
  id: 'adapter-latency',
  title: 'MongoDB adapters: latency at fixed rates',
  description:
    "Two bare socket.io nodes on the project's MongoDB stand-in (its TTL monitor slowed to mongod's pace), one room with the same number of members on each node, one member of node 1 sending at a fixed rate (open loop, latency from the intended send time). Local latency is to the members of the sender's node, remote to the other node's. Each adapter runs with connection state recovery off and on; the official adapter with recovery off is the baseline of every table. A variant that delivered less than 95 % of what was offered in its window, or whose median latency exceeds 100 ms, could not keep up (saturated): its percentiles measure a queue.",
  async run(context) {
    const { profile } = context;
    const notes: string[] = [];
    const failures: string[] = [];
    const referenceFailures: string[] = [];
    if (!packageExists('mongo-standin') || !packageExists('mongo-adapter')) {
      return { tables: [], notes, failures, skipped: 'the MongoDB stand-in or adapter is not in this checkout' };
    }
    const { rates, sizes } = plan(profile.quick);
    const tables = new Map<string, TableBuilder>();
    for (const size of sizes) {
      for (const rate of rates) {
        tables.set(
          tableKey(size, rate),
          new TableBuilder(
            `**${size} clients per node, ${rate} broadcasts/s** (${size * 2 * rate} deliveries/s offered)`,
            BASELINE,
            METRICS,
          ),
        );
      }
    }
    const saturated = new Set<string>();
    const variants: Variant[] = [];
    for (const membersPerNode of sizes) {
      for (const adapter of ['mongo-official', 'mongo-switchyard'] as const) {
        for (const recovery of [false, true]) {
          variants.push({
            label: `${rowLabel(adapter, recovery)}, ${membersPerNode} clients per node`,
            adapter,
            recovery,
            membersPerNode,
            reference: adapter === 'mongo-official',
          });
        }
      }
    }
    await forEachRun(
      context,
      'adapter-latency',
      variants,
      failures,
      (variant) => measureVariant(context, variant, rates, tables, saturated),
      { failuresFor: (variant) => (variant.reference ? referenceFailures : failures) },
    );
    for (const failure of referenceFailures)
      notes.push(`⚠ A reference variant failed (reported, not fatal: it is not our code): ${failure}`);
    const built = [...tables.entries()].map(([key, table]) => {
      const result = table.build();
      for (const row of result.rows) if (saturated.has(`${key}|${row.label}`)) row.notes.push('saturated');
      return { key, result };
    });
    notes.push(...latencyTargets(built, saturated));
    return { tables: built.map((b) => b.result), notes, failures };
  },
};

/** One variant: a stand-in, two nodes and the room's members, then one window per rate. */
async function measureVariant(
  context: ScenarioContext,
  variant: Variant,
  rates: number[],
  tables: Map<string, TableBuilder>,
  saturated: Set<string>,
): Promise<void> {
  const broker = await startStandIn(context);
  const nodes: ChildHandle<ServerCommands>[] = [];
  let load: ChildHandle<LoadCommands> | undefined;
  try {
    const config: Partial<BareServerConfig> = {
      adapter: variant.adapter,
      mongoUri: broker.url,
      mongoCollection: `bench-latency-${variant.adapter}`,
      recovery: variant.recovery,
    };
    for (let node = 0; node < 2; node++)
      nodes.push(await startBareServer(context, config, `node${node + 1}-${variant.adapter}`));
    const started = await startLoad(context);
    load = started;
    const members = variant.membersPerNode * 2;
    await started.call('fanout.connect', {
      target: 'socketio',
      urls: nodes.map(serverUrl),
      members,
      room: 'bench-latency',
      auth: { mode: 'anonymous' },
      concurrency: 50,
    });
    const label = rowLabel(variant.adapter, variant.recovery);
    for (const rate of rates) {
      const window = await measureWorkload(
        nodes,
        started,
        context,
        () => started.call('fanout.start', { mode: 'fixed', bytes: 100, rate }),
        [{ read: () => broker.cpuMicros(), isCpuMicros: true }],
      );
      const key = tableKey(variant.membersPerNode, rate);
      const table = tables.get(key)!;
      const offered = (rate * members * window.load.durationMs) / 1000;
      const delivered = offered > 0 ? window.load.operations / offered : undefined;
      const p50 = Math.max(window.load.latency?.p50 ?? 0, window.load.remoteLatency?.p50 ?? 0);
      if ((delivered !== undefined && delivered < KEPT_UP) || p50 > QUEUEING_MS) saturated.add(`${key}|${label}`);
      table.add(label, {
        localP50: window.load.latency?.p50,
        localP99: window.load.latency?.p99,
        remoteP50: window.load.remoteLatency?.p50,
        remoteP99: window.load.remoteLatency?.p99,
        delivered,
        nodesCpu: window.serverCpu.reduce((sum, cpu) => sum + cpu, 0),
        brokerCpu: window.probeDeltas[0]! / 1000 / Math.max(1, window.load.durationMs),
      });
      if (variant.reference) table.reference(label);
      noteWindows(table, label, window as MeasuredWindow);
    }
    await started.call('connections.close');
  } catch (error) {
    throw withChildLogs(error, nodes);
  } finally {
    await Promise.all([load?.stop(), ...nodes.map((node) => node.stop())]);
    await broker.stop();
  }
}

function median(table: ResultTable, label: string, key: string): number | undefined {
  return spread(table.rows.find((row) => row.label === label)?.samples[key] ?? [])?.median;
}

/** Issue 16's targets, table by table. */
function latencyTargets(tables: Array<{ key: string; result: ResultTable }>, saturated: Set<string>): string[] {
  const notes: string[] = [];
  const mark = (ok: boolean) => (ok ? '✓' : '✗');
  for (const { key, result } of tables) {
    const [size, rate] = key.split('/');
    const where = `${size} clients/node, ${rate}/s`;
    for (const recovery of [false, true]) {
      const ours = rowLabel('mongo-switchyard', recovery);
      const official = rowLabel('mongo-official', recovery);
      const oursRemote = median(result, ours, 'remoteP99');
      const officialRemote = median(result, official, 'remoteP99');
      if (oursRemote !== undefined && officialRemote !== undefined) {
        const officialSaturated = saturated.has(`${key}|${official}`);
        const r = oursRemote / officialRemote;
        notes.push(
          `${where}, recovery ${recovery ? 'on' : 'off'}: our remote p99 is ${r.toFixed(2)}× the official adapter's` +
            (officialSaturated ? ' (official saturated: no target)' : ` (target ≤ 1 ${mark(r <= 1)})`),
        );
      }
      const oursLocal = median(result, ours, 'localP99');
      if (oursRemote !== undefined && oursLocal !== undefined) {
        const gap = oursRemote - oursLocal;
        notes.push(
          `${where}, recovery ${recovery ? 'on' : 'off'}: our remote p99 − local p99 = ${gap.toFixed(2)} ms (target ≤ 5 ms ${mark(gap <= 5)})`,
        );
      }
    }
    const on = median(result, rowLabel('mongo-switchyard', true), 'localP99');
    const off = median(result, rowLabel('mongo-switchyard', false), 'localP99');
    const r = ratio(
      on === undefined ? undefined : { median: on, min: on, max: on, runs: 1 },
      off === undefined ? undefined : { median: off, min: off, max: off, runs: 1 },
    );
    if (r !== undefined)
      notes.push(
        `${where}: our local p99 with recovery on is ${r.toFixed(2)}× with it off (target ≤ 1.5 ${mark(r <= 1.5)})`,
      );
  }
  return notes;
}
