import { type ChildHandle, withChildLogs } from '../harness/child-process.js';
import type { ServerCommands } from '../harness/ipc.js';
import { sleep } from '../harness/measure.js';
import { CONNECTION_MAP, nginxMissing, SOCKET_IO_PROXY, startBenchNginx } from '../harness/nginx.js';
import { TableBuilder, type MetricSpec } from '../harness/table.js';
import type { StormResult } from '../load/storm.js';
import { type Broker, startStandIn } from './brokers.js';
import { forEachRun } from './run-loop.js';
import { ANONYMOUS, GATEWAY_JWT } from './server-variants.js';
import { packageExists, serverUrl, startBareServer, startGateway, startLoad } from './targets.js';
import type { Scenario, ScenarioContext } from './types.js';
import type { AuthSpec } from '../load/auth.js';

/*
 * A reconnect storm: three nodes on the MongoDB stand-in behind round-robin nginx hold the crowd, over
 * WebSocket; the third node is killed (SIGKILL) and its clients, a third of the crowd, come back to the
 * two others at once. Measured: time until 95 % and 100 % of them are connected again, the latency of
 * the reconnection attempts that succeeded (p50/p99), the survivors' peak heap, and the commands the
 * stand-in received per second (peak over one-second windows) and in all.
 */

const BASELINE = 'socket.io + @socket.io/mongo-adapter (defaults), socket.io-client';

const METRICS: MetricSpec[] = [
  { key: 't95', label: '95 % back', unit: 'ms' },
  { key: 't100', label: '100 % back', unit: 'ms' },
  { key: 'handshakeP50', label: 'handshake p50', unit: 'ms' },
  { key: 'handshakeP99', label: 'handshake p99', unit: 'ms' },
  { key: 'peakHeap', label: 'survivor peak heap', unit: 'bytes' },
  { key: 'peakQueries', label: 'MongoDB commands/s (peak)', unit: 'per-second' },
  { key: 'queriesPerVictim', label: 'MongoDB commands per victim', unit: 'count' },
  { key: 'victims', label: 'victims', unit: 'count', compare: false },
];

interface Variant {
  label: string;
  kind: 'bare' | 'gateway';
  env?: Record<string, string>;
}

const CLUSTER_SECRET = 'bench-cluster-secret-0123456789abcdefghij';
const SAMPLE_MS = 250;
/** Clients per room: small, so presence of the mass rejoin stays a small part of the storm. */
const ROOM_SIZE = 10;

function roundRobin(urls: string[]): string {
  return `${CONNECTION_MAP}
  upstream bench_nodes {
${urls.map((url) => `    server ${url.replace('http://', '')} max_fails=1 fail_timeout=2s;`).join('\n')}
    keepalive 32;
  }
  server {
    listen \${LISTEN};
    location /socket.io/ {
      proxy_pass http://bench_nodes;${SOCKET_IO_PROXY}
      proxy_next_upstream_tries 3;
    }
  }`;
}

export const stormScenario: Scenario = {
  id: 'storm',
  title: 'Reconnect storm: a node holding a third of the clients is killed',
  description:
    "Three nodes on the MongoDB stand-in behind round-robin nginx hold the crowd (WebSocket, connection state recovery on), in rooms of 10 where every client has received a message, so it holds an offset and its reconnection tries a session restore. The third node is killed with SIGKILL; its clients reconnect to the two others at once. Baseline: bare socket.io with the official `@socket.io/mongo-adapter` at its defaults and `socket.io-client` at its defaults (it does not rejoin rooms: a restore it misses leaves it outside them). Gateway (it rejoins and reads history when a restore fails, which costs queries): JWT auth, the SDK (full-jitter backoff), handshake admission and paced restores at their defaults. Times run from the kill; handshake latency is a successful attempt's, from `reconnect_attempt` to `connect`; peak heap is the larger survivor's, sampled every 250 ms without forcing a GC; MongoDB commands are what the stand-in received (peak over one-second windows, and in all per victim). Everything but the load generator shares the server core.",
  async run(context) {
    const missing = nginxMissing() ?? (packageExists('gateway') ? undefined : 'the gateway package is missing');
    if (missing) return { tables: [], notes: [], failures: [], skipped: missing };
    const { profile } = context;
    const failures: string[] = [];
    const notes: string[] = [];
    const table = new TableBuilder(`**${profile.stormClients} clients on 3 nodes, one killed**`, BASELINE, METRICS);
    const variants: Variant[] = [
      { label: BASELINE, kind: 'bare' },
      { label: 'gateway (JWT, SDK), admission and paced restores (defaults)', kind: 'gateway' },
    ];
    if (profile.stormExtraVariants) {
      variants.push({
        label: 'gateway (JWT, SDK), admission and pacing off',
        kind: 'gateway',
        env: {
          HANDSHAKE_MAX_CONCURRENT: '1000000',
          JWT_VERIFY_MAX_CONCURRENT: '100000',
          RESTORE_MAX_CONCURRENT: '100000',
          RESTORE_RATE_PER_SECOND: '1000000',
        },
      });
    } else notes.push('Quick run: the "admission and pacing off" gateway row runs in full runs only.');
    await forEachRun(context, 'storm', variants, failures, (variant) => measureStorm(context, variant, table));
    return { tables: [table.build()], notes, failures };
  },
};

async function startNodes(
  context: ScenarioContext,
  variant: Variant,
  broker: Broker,
): Promise<ChildHandle<ServerCommands>[]> {
  const nodes: ChildHandle<ServerCommands>[] = [];
  // One at a time: the first node creates the shared collections.
  for (const nodeId of ['gw1', 'gw2', 'gw3']) {
    nodes.push(
      variant.kind === 'bare'
        ? await startBareServer(
            context,
            {
              adapter: 'mongo-official',
              mongoUri: broker.url,
              mongoCollection: 'bench-storm-official',
              transports: ['websocket'],
              recovery: true,
            },
            `${nodeId}-socketio`,
          )
        : await startGateway(context, {
            auth: 'jwt',
            transports: 'websocket',
            env: {
              NODE_ID: nodeId,
              MONGODB_URI: broker.url,
              MONGODB_DB: 'bench_storm',
              CLUSTER_SECRET,
              ADAPTER_HEARTBEAT_INTERVAL_MS: '1000',
              ADAPTER_HEARTBEAT_TIMEOUT_MS: '5000',
              ...variant.env,
            },
          }),
    );
  }
  return nodes;
}

async function measureStorm(context: ScenarioContext, variant: Variant, table: TableBuilder): Promise<void> {
  const { profile } = context;
  const broker = await startStandIn(context);
  let nodes: ChildHandle<ServerCommands>[] = [];
  let nginx: Awaited<ReturnType<typeof startBenchNginx>> | undefined;
  const load = await startLoad(context);
  try {
    nodes = await startNodes(context, variant, broker);
    nginx = await startBenchNginx(
      {
        logDir: context.logDir,
        name: 'nginx-storm',
        core: context.cores.server,
        workerConnections: Math.max(1024, profile.stormClients * 3),
      },
      roundRobin(nodes.map(serverUrl)),
    );
    const auth: AuthSpec = variant.kind === 'bare' ? ANONYMOUS : GATEWAY_JWT;
    const rooms = Math.max(1, Math.round(profile.stormClients / ROOM_SIZE));
    await load.call(
      'storm.connect',
      {
        url: nginx.url,
        clients: profile.stormClients,
        kind: variant.kind === 'bare' ? 'socketio' : 'sdk',
        transport: 'websocket',
        auth,
        concurrency: 100,
        rooms,
      },
      300_000,
    );
    // Every client gets a room message (an offset to recover from), then the crowd settles.
    await load.call('storm.prime', null, 120_000);
    await sleep(1_000);
    const survivors = nodes.slice(0, 2);
    await load.call('storm.begin');
    const commandsAtKill = (await broker.counters!()).commands;
    nodes[2]!.kill();

    const samples: { at: number; commands: number }[] = [{ at: performance.now(), commands: commandsAtKill }];
    let peakHeap = 0;
    let status = await load.call('storm.status');
    const deadline = performance.now() + (profile.quick ? 60_000 : 180_000);
    // Done when every victim is back, and no new victim appeared for a moment (clients notice at different times).
    let settledSince: number | undefined;
    for (;;) {
      await sleep(SAMPLE_MS);
      const [next, counters, ...heaps] = await Promise.all([
        load.call('storm.status'),
        broker.counters!(),
        ...survivors.map((node) => node.call('memory')),
      ]);
      samples.push({ at: performance.now(), commands: counters.commands });
      for (const heap of heaps) peakHeap = Math.max(peakHeap, heap.heapUsed);
      const done = next.victims > 0 && next.back === next.victims;
      settledSince = done && next.victims === status.victims ? (settledSince ?? performance.now()) : undefined;
      status = next;
      if (settledSince !== undefined && performance.now() - settledSince > 1_000) break;
      if (performance.now() > deadline)
        throw new Error(
          `storm: ${status.back} of ${status.victims} clients back after ${Math.round(status.elapsedMs)} ms`,
        );
    }
    const result: StormResult = await load.call('storm.result');
    const commands = samples.at(-1)!.commands - commandsAtKill;
    table.add(variant.label, {
      t95: result.t95Ms,
      t100: result.t100Ms,
      handshakeP50: result.handshakeP50Ms,
      handshakeP99: result.handshakeP99Ms,
      peakHeap,
      peakQueries: peakRate(samples),
      queriesPerVictim: result.victims > 0 ? commands / result.victims : undefined,
      victims: result.victims,
    });
    await load.call('connections.close');
  } catch (error) {
    throw withChildLogs(error, nodes);
  } finally {
    await Promise.all([load.stop(), ...nodes.map((node) => node.stop()), nginx?.stop()]);
    await broker.stop();
  }
}

/** The largest count of commands in any span of about one second between two samples, per second. */
function peakRate(samples: { at: number; commands: number }[]): number | undefined {
  let peak: number | undefined;
  for (let i = 0; i < samples.length; i++) {
    for (let j = i + 1; j < samples.length; j++) {
      const span = samples[j]!.at - samples[i]!.at;
      if (span < 1_000) continue;
      const rate = ((samples[j]!.commands - samples[i]!.commands) / span) * 1000;
      peak = Math.max(peak ?? 0, rate);
      break;
    }
  }
  return peak;
}
