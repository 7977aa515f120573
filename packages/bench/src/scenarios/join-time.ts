import { sleep } from '../harness/measure.js';
import { TableBuilder, type MetricSpec } from '../harness/table.js';
import type { AuthSpec } from '../load/auth.js';
import { forEachRun } from './run-loop.js';
import { ANONYMOUS, GATEWAY_JWT, bareServer, jwtGateway, withGatewayVariants } from './server-variants.js';
import { withServerAndLoad, type StartServer } from './server-workload.js';
import { serverUrl } from './targets.js';
import type { Scenario } from './types.js';

const BASELINE = 'socket.io (bare)';

const METRICS: MetricSpec[] = [
  {
    key: 'joinMs',
    label: 'time to join all to one room',
    unit: 'ms',
    target: { kind: 'max-ratio', value: 1.5 },
  },
  { key: 'joinCpuMs', label: 'server CPU for the joins', unit: 'ms' },
  { key: 'connectMs', label: 'time to connect all (before)', unit: 'ms' },
];

interface Variant {
  label: string;
  auth: AuthSpec;
  start: StartServer;
}

export const joinTimeScenario: Scenario = {
  id: 'join',
  title: 'Filling one room: time to join N WebSocket members',
  description:
    'N clients speaking the Socket.IO wire protocol on `ws` connect first (timed on its own: the gateway verifies a JWT per handshake), then all send `room:join` for the same room, 50 at a time, and the time until the last ack is what is compared, with the server’s CPU over the joins and one second after (the presence they still cause), a steadier figure on a shared machine. The gateway answers each join with the room as it is (every member in members mode, the count in a large room) and folds the arrival into one presence event per room per interval; the bare server joins the room and acks.',
  async run(context) {
    const { profile } = context;
    const notes: string[] = [];
    const failures: string[] = [];
    const variants = withGatewayVariants<Variant>(
      [{ label: BASELINE, auth: ANONYMOUS, start: bareServer }],
      [{ label: 'gateway (JWT, presence, history)', auth: GATEWAY_JWT, start: jwtGateway }],
      notes,
    );
    const tables = new Map(
      profile.joinSizes.map((size) => [
        size,
        new TableBuilder(`**${size} WebSocket members, one room**`, BASELINE, METRICS),
      ]),
    );
    const cases = profile.joinSizes.flatMap((size) => variants.map((variant) => ({ ...variant, size })));
    await forEachRun(
      context,
      'join',
      cases,
      failures,
      (variant) =>
        withServerAndLoad(context, variant.start, async (server, load) => {
          const connected = await load.call(
            'fanout.connect',
            {
              target: 'socketio',
              urls: [serverUrl(server)],
              members: variant.size,
              room: 'bench-join',
              auth: variant.auth,
              concurrency: 50,
              phased: true,
            },
            600_000,
          );
          await sleep(profile.quick ? 100 : 1_000);
          const before = await server.call('cpu');
          const joined = await load.call('fanout.join', null, 600_000);
          // Presence of the joins that is still due (the gateway's next intervals) counts too.
          await sleep(profile.quick ? 300 : 1_000);
          const after = await server.call('cpu');
          tables.get(variant.size)!.add(variant.label, {
            joinMs: joined.ms,
            joinCpuMs: (after.cpuMicros - before.cpuMicros) / 1000,
            connectMs: connected.ms,
          });
          await load.call('connections.close');
        }),
      { describe: (variant) => `${variant.size} members on ${variant.label}` },
    );
    return { tables: [...tables.values()].map((table) => table.build()), notes, failures };
  },
};
