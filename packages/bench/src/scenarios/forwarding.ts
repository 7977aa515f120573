import { type ChildHandle, withChildLogs } from '../harness/child-process.js';
import type { ServerCommands } from '../harness/ipc.js';
import { CONNECTION_MAP, nginxMissing, SOCKET_IO_PROXY, startBenchNginx } from '../harness/nginx.js';
import { TableBuilder, type MetricSpec } from '../harness/table.js';
import { startStandIn } from './brokers.js';
import { forEachRun } from './run-loop.js';
import { GATEWAY_JWT } from './server-variants.js';
import { measureWorkload } from './server-workload.js';
import { packageExists, serverUrl, startGateway, startLoad } from './targets.js';
import type { Scenario, ScenarioContext } from './types.js';
import { noteWindows } from './window-rows.js';

/*
 * What forwarding costs a polling client: `message:send` ack latency over long-polling through nginx,
 * two gateway nodes in MongoDB mode (CLUSTER_SECRET set). Every handshake goes to node A (which so owns
 * every session); then every later request goes to A again (sticky, the baseline) or to B, which
 * forwards it to A (every request forwarded: the worst a balancer can do; plain round-robin over n nodes
 * forwards (n-1)/n of them). Both rows pay the same nginx hop.
 */

const BASELINE = 'sticky: every request on its owner';
const FORWARDED = 'forwarded: every request through the other node';

const METRICS: MetricSpec[] = [
  { key: 'p50', label: 'ack p50', unit: 'ms', target: { kind: 'max-ratio', value: 1.3 } },
  { key: 'p99', label: 'ack p99', unit: 'ms' },
  { key: 'max', label: 'ack max', unit: 'ms', compare: false },
  { key: 'ownerCpu', label: 'owner CPU', unit: 'core-fraction', compare: false },
  { key: 'otherCpu', label: 'other node CPU', unit: 'core-fraction', compare: false },
];

const CLUSTER_SECRET = 'bench-cluster-secret-0123456789abcdefghij';

interface Variant {
  label: string;
  /** Where requests that carry a session id go. */
  sessions: 'owner' | 'other';
}

/** nginx: handshakes (no `sid`) to A; requests of a session to A or to B. */
function routing(a: string, b: string, sessions: Variant['sessions']): string {
  return `${CONNECTION_MAP}
  upstream bench_a { server ${a.replace('http://', '')}; keepalive 16; }
  upstream bench_b { server ${b.replace('http://', '')}; keepalive 16; }
  map $arg_sid $bench_upstream {
    ''      bench_a;
    default ${sessions === 'owner' ? 'bench_a' : 'bench_b'};
  }
  server {
    listen \${LISTEN};
    location /socket.io/ {
      proxy_pass http://$bench_upstream;${SOCKET_IO_PROXY}
    }
  }`;
}

export const forwardingScenario: Scenario = {
  id: 'forward',
  title: 'Polling without stickiness: ack latency when every request is forwarded',
  description:
    "`message:send` ack latency over HTTP long-polling (real `socket.io-client` sockets, fixed total rate, latency from each message's intended send time) through nginx in front of two gateway nodes in MongoDB mode on the stand-in, with CLUSTER_SECRET. Handshakes always go to node A, which owns every session. Baseline: every later request to A too (sticky routing). Forwarded: every later request to node B, which forwards it to A over a pooled keep-alive connection (undici) and streams the answer back. Target: forwarded p50 ≤ 1.3× sticky. Node A, the stand-in and nginx share the server core; node B runs on the load generator's core (the load is light), so that its forwarding does not steal A's CPU as it would never in production.",
  async run(context) {
    const missing = nginxMissing() ?? (packageExists('gateway') ? undefined : 'the gateway package is missing');
    if (missing) return { tables: [], notes: [], failures: [], skipped: missing };
    const { profile } = context;
    const failures: string[] = [];
    const table = new TableBuilder(
      `**${profile.ackClients} polling clients, ${profile.forwardRate} messages/s in total, 100 B messages, 2 nodes**`,
      BASELINE,
      METRICS,
    );
    const variants: Variant[] = [
      { label: BASELINE, sessions: 'owner' },
      { label: FORWARDED, sessions: 'other' },
    ];
    await forEachRun(context, 'forward', variants, failures, (variant) => measureForwarding(context, variant, table));
    return { tables: [table.build()], notes: [], failures };
  },
};

async function measureForwarding(context: ScenarioContext, variant: Variant, table: TableBuilder): Promise<void> {
  const { profile } = context;
  const broker = await startStandIn(context);
  const nodes: ChildHandle<ServerCommands>[] = [];
  let nginx: Awaited<ReturnType<typeof startBenchNginx>> | undefined;
  const load = await startLoad(context);
  try {
    for (const nodeId of ['gwa', 'gwb']) {
      nodes.push(
        await startGateway(context, {
          auth: 'jwt',
          transports: 'polling',
          // Node B gets a core of its own (the load generator's, which this light load leaves idle):
          // nodes do not share a core in production, and on one core B's work would delay A's.
          ...(nodeId === 'gwb' ? { core: context.cores.load } : {}),
          env: {
            NODE_ID: nodeId,
            MONGODB_URI: broker.url,
            MONGODB_DB: 'bench_forward',
            CLUSTER_SECRET,
            ADAPTER_HEARTBEAT_INTERVAL_MS: '500',
            ADAPTER_HEARTBEAT_TIMEOUT_MS: '3000',
          },
        }),
      );
    }
    const [a, b] = nodes.map(serverUrl) as [string, string];
    nginx = await startBenchNginx(
      { logDir: context.logDir, name: 'nginx-forward', core: context.cores.server, workerConnections: 1024 },
      routing(a, b, variant.sessions),
    );
    const url = nginx.url;
    const window = await measureWorkload(nodes, load, context, async () => {
      await load.call('ack.connect', { url, clients: profile.ackClients, transport: 'polling', auth: GATEWAY_JWT });
      await load.call('ack.start', { rate: profile.forwardRate, bytes: 100 });
    });
    await load.call('connections.close');
    table.add(variant.label, {
      p50: window.load.latency?.p50,
      p99: window.load.latency?.p99,
      max: window.load.latency?.max,
      ownerCpu: window.serverCpu[0],
      otherCpu: window.serverCpu[1],
    });
    noteWindows(table, variant.label, window);
  } catch (error) {
    throw withChildLogs(error, nodes);
  } finally {
    await Promise.all([load.stop(), ...nodes.map((node) => node.stop()), nginx?.stop()]);
    await broker.stop();
  }
}
