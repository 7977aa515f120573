import type { ChildHandle } from '../harness/child-process.js';
import type { ServerCommands } from '../harness/ipc.js';
import { TableBuilder, type MetricSpec } from '../harness/table.js';
import { startStandIn, type Broker } from './brokers.js';
import { forEachRun } from './run-loop.js';
import { GATEWAY_JWT } from './server-variants.js';
import { measureServerWorkload } from './server-workload.js';
import { packageExists, startGateway } from './targets.js';
import type { Scenario, ScenarioContext } from './types.js';
import { noteWindows, throughputCells } from './window-rows.js';

/*
 * What counting MAX_SOCKETS_PER_USER and the publish rate limit across the cluster costs in MongoDB
 * mode: one gateway node on the project's stand-in, the limits counted per node (CLUSTER_LIMITS=false,
 * the baseline) against counted in MongoDB (the default): handshakes/s (two round trips more per
 * connect, one per disconnect) and HTTP publishes/s (one round trip more per publish).
 */

const API_KEY = 'bench-limits-api-key-0123456789';
const PER_NODE = 'per node (CLUSTER_LIMITS=false)';
const CLUSTER = 'across the cluster (default)';

const METRICS: MetricSpec[] = [
  { key: 'rate', label: 'operations/s', unit: 'per-second' },
  { key: 'p50', label: 'p50', unit: 'ms' },
  { key: 'p99', label: 'p99', unit: 'ms' },
  { key: 'serverCpu', label: 'server CPU', unit: 'core-fraction', compare: false },
  { key: 'loadCpu', label: 'load CPU', unit: 'core-fraction', compare: false },
];

interface Variant {
  label: string;
  clusterLimits: boolean;
}

const VARIANTS: Variant[] = [
  { label: PER_NODE, clusterLimits: false },
  { label: CLUSTER, clusterLimits: true },
];

let databases = 0;

function limitedGateway(broker: Broker, variant: Variant) {
  return (context: ScenarioContext): Promise<ChildHandle<ServerCommands>> =>
    startGateway(context, {
      auth: 'jwt',
      transports: 'websocket',
      env: {
        MONGODB_URI: broker.url,
        MONGODB_DB: `bench-limits-${process.pid}-${++databases}`,
        CLUSTER_LIMITS: String(variant.clusterLimits),
        // High enough never to refuse: the bench measures the counting, not refusals.
        MAX_SOCKETS_PER_USER: '100000',
        API_KEYS: API_KEY,
        PUBLISH_RATE_LIMIT_MAX: '1000000',
      },
    });
}

export const clusterLimitsScenario: Scenario = {
  id: 'limits',
  title: 'Cluster-wide limits (MongoDB mode)',
  description:
    "The cost of counting MAX_SOCKETS_PER_USER and the HTTP publish rate limit across the cluster: one gateway node in MongoDB mode on the stand-in, with the limits counted per node (the baseline) and in MongoDB (two more round trips per connect and one per disconnect; one per publish). Handshakes/s at saturation with JWT auth, each socket closing once connected; HTTP publishes/s at saturation with an API key. The stand-in plays MongoDB: its costs are not a real server's.",
  async run(context) {
    const { profile } = context;
    const failures: string[] = [];
    const notes: string[] = [];
    if (!packageExists('mongo-standin') || !packageExists('gateway'))
      return { tables: [], notes, failures, skipped: 'needs the gateway and the MongoDB stand-in' };
    const connects = new TableBuilder(
      `**Handshakes: ${profile.connectConcurrency} concurrent loops over WebSocket, JWT**`,
      PER_NODE,
      METRICS,
    );
    const publishes = new TableBuilder(
      `**HTTP publishes: ${profile.connectConcurrency} concurrent loops**`,
      PER_NODE,
      METRICS,
    );
    const broker = await startStandIn(context);
    try {
      await forEachRun(context, 'limits', VARIANTS, failures, async (variant) => {
        await measureServerWorkload(
          context,
          limitedGateway(broker, variant),
          {
            start: (load, url) =>
              load.call('connect.start', { url, concurrency: profile.connectConcurrency, auth: GATEWAY_JWT }),
          },
          (window) => {
            connects.add(variant.label, throughputCells(window));
            noteWindows(connects, variant.label, window);
          },
        );
        await measureServerWorkload(
          context,
          limitedGateway(broker, variant),
          {
            start: (load, url) =>
              load.call('publish.start', {
                url,
                concurrency: profile.connectConcurrency,
                apiKey: API_KEY,
                room: 'bench',
              }),
          },
          (window) => {
            publishes.add(variant.label, throughputCells(window));
            noteWindows(publishes, variant.label, window);
          },
        );
      });
    } finally {
      await broker.stop();
    }
    return { tables: [connects.build(), publishes.build()], notes, failures };
  },
};
