import type { ChildHandle } from '../harness/child-process.js';
import type { ServerCommands } from '../harness/ipc.js';
import { measureWindow, sleep } from '../harness/measure.js';
import { TableBuilder, type MetricSpec } from '../harness/table.js';
import type { AuthSpec } from '../load/auth.js';
import { forEachRun } from './run-loop.js';
import { ANONYMOUS, GATEWAY_JWT, bareServer, jwtGateway, withGatewayVariants } from './server-variants.js';
import { withServerAndLoad, type StartServer } from './server-workload.js';
import { serverUrl } from './targets.js';
import type { Scenario } from './types.js';
import { noteWindows } from './window-rows.js';

const BASELINE = 'gateway, every member reading';
const GATEWAY_SLOW = 'gateway, some members stop reading';
const BARE_SLOW = 'socket.io (bare), some members stop reading';

const METRICS: MetricSpec[] = [
  { key: 'p50', label: 'p50 of the others', unit: 'ms' },
  { key: 'p99', label: 'p99 of the others', unit: 'ms', target: { kind: 'max-ratio', value: 1.2 } },
  { key: 'rate', label: 'deliveries/s per reading member', unit: 'per-second' },
  { key: 'peakHeap', label: 'peak server heap', unit: 'bytes' },
  { key: 'heapAfter', label: 'server heap after the window (GC)', unit: 'bytes' },
  { key: 'closed', label: 'closed with SLOW_CONSUMER', unit: 'count', compare: false },
];

interface Variant {
  label: string;
  auth: AuthSpec;
  start: StartServer;
  stalled: boolean;
  /** Reads the gateway's SLOW_CONSUMER closes (undefined for servers without them). */
  closes?: (server: ChildHandle<ServerCommands>) => Promise<number>;
}

/** The gateway's own count of sockets it closed as slow consumers, from its /metrics. */
async function slowConsumerCloses(server: ChildHandle<ServerCommands>): Promise<number> {
  const text = await (await fetch(`${serverUrl(server)}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith('switchyard_slow_consumer_closes_total{'))
    .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
}

/** The highest heap reading (no GC, garbage included) while `during` runs, sampled every 200 ms. */
async function peakHeapDuring<T>(
  server: ChildHandle<ServerCommands>,
  during: Promise<T>,
): Promise<{ value: T; peak: number }> {
  let peak = 0;
  let done = false;
  const sampling = (async () => {
    while (!done) {
      peak = Math.max(peak, (await server.call('memory')).heapUsed);
      await sleep(200);
    }
  })();
  try {
    return { value: await during, peak };
  } finally {
    done = true;
    await sampling;
  }
}

export const slowReadersScenario: Scenario = {
  id: 'slow',
  title: 'Slow readers: members that stop reading in a busy room',
  description:
    "One room of WebSocket members and one sender at a fixed rate of 4 KB messages. In the measured window some members stop reading their TCP socket (a phone in a tunnel): the server's writes to them back up in the kernel, then in the server. The gateway closes each of them with SLOW_CONSUMER once more than SOCKET_BUFFER_BYTES (default 1 MiB) or SOCKET_BUFFER_PACKETS wait for it; bare socket.io keeps queueing. Latency (from the intended send time) and deliveries are those of the members that keep reading; the baseline is the same room with every member reading. The server's heap is sampled every 200 ms (no GC: the peak includes garbage) and read after a forced GC at the end of the window, slow members still connected where the server kept them.",
  async run(context) {
    const { profile } = context;
    const notes: string[] = [];
    const failures: string[] = [];
    const members = profile.slowMembers;
    const stalled = profile.slowStalled;
    const table = new TableBuilder(
      `**${members} members, ${stalled} of them stop reading, 4 KB messages at ${profile.slowRate}/s for ${profile.slowWindowMs / 1000} s**`,
      BASELINE,
      METRICS,
    );
    const variants = withGatewayVariants<Variant>(
      // The bare row shows what the bound prevents; a quick run skips it to stay short.
      profile.quick ? [] : [{ label: BARE_SLOW, auth: ANONYMOUS, start: bareServer, stalled: true }],
      [
        { label: BASELINE, auth: GATEWAY_JWT, start: jwtGateway, stalled: false, closes: slowConsumerCloses },
        { label: GATEWAY_SLOW, auth: GATEWAY_JWT, start: jwtGateway, stalled: true, closes: slowConsumerCloses },
      ],
      notes,
    );
    // Baseline first in every run.
    variants.sort((a, b) => Number(b.label === BASELINE) - Number(a.label === BASELINE));
    if (!profile.quick) table.reference(BARE_SLOW);
    const runs = Math.min(profile.runs, profile.slowRuns);
    if (runs < profile.runs)
      notes.push(`${runs} run(s) instead of ${profile.runs}: each window lasts ${profile.slowWindowMs / 1000} s.`);
    await forEachRun(
      context,
      'slow',
      variants,
      failures,
      (variant) =>
        withServerAndLoad(context, variant.start, async (server, load) => {
          await load.call(
            'fanout.connect',
            {
              target: 'socketio',
              urls: [serverUrl(server)],
              members,
              room: 'bench-slow',
              auth: variant.auth,
              concurrency: 50,
            },
            600_000,
          );
          const closedBefore = (await variant.closes?.(server)) ?? 0;
          await load.call('fanout.start', {
            mode: 'fixed',
            bytes: 4000,
            rate: profile.slowRate,
            stalled: variant.stalled ? stalled : 0,
          });
          const { value: window, peak } = await peakHeapDuring(
            server,
            measureWindow([server], load, { warmupMs: 300, windowMs: profile.slowWindowMs, noisyRetries: 0 }),
          );
          const heapAfter = (await server.stats()).heapUsed;
          const closed = variant.closes ? (await variant.closes(server)) - closedBefore : undefined;
          await load.call('workload.stop');
          await load.call('connections.close');
          table.add(variant.label, {
            p50: window.load.latency?.p50,
            p99: window.load.latency?.p99,
            rate: window.rate / (members - (variant.stalled ? stalled : 0)),
            peakHeap: peak,
            heapAfter,
            closed,
          });
          noteWindows(table, variant.label, window);
          if (variant.stalled && closed !== undefined && closed < stalled)
            table.note(variant.label, `${closed} of ${stalled} closed within the window`);
        }),
      { runs },
    );
    notes.push(
      `Target: the reading members' p99 with ${stalled} slow members stays within 1.2× of the same room without them, the server's heap stays bounded (the peak is reported), and every slow member is closed with SLOW_CONSUMER.`,
    );
    return { tables: [table.build()], notes, failures };
  },
};
