import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { createClient, type Room, type SwitchyardClient, type Transport } from '@switchyard/client';
import { subscribe, type Subscription } from '@switchyard/client/subscribe';
import { ChildHandle } from '../harness/child-process.js';
import type { ServerCommands, StandInCommands } from '../harness/ipc.js';
import { benchSource } from '../harness/paths.js';

/*
 * `pnpm soak [--minutes 10] [--clients 1000]`: two gateway nodes in MongoDB mode on the project's
 * stand-in, and clients that chat, join, leave and reconnect over WebSocket, long-polling and SSE for
 * `--minutes` (counted once every client has started). It reports each node's heap (after a forced GC) and open file descriptors at the
 * start (once every client is connected and the load has settled) and at the end (under the same
 * load), the traffic, and every error a client saw. Target: heap and descriptors flat within 10 %,
 * no error. Exit code 1 when a node died or a client saw an error.
 */

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    clients: { type: 'string', default: '1000' },
    rooms: { type: 'string', default: '20' },
  },
});
const MINUTES = Number(values.minutes);
const CLIENTS = Number(values.clients);
const ROOMS = Number(values.rooms);
if (!(MINUTES > 0) || !(CLIENTS > 0) || !(ROOMS > 0)) {
  console.error('usage: pnpm soak [--minutes <n>] [--clients <n>] [--rooms <n>]');
  process.exit(2);
}

const DURATION_MS = MINUTES * 60_000;
/** Clients start over this long (it takes longer when the machine cannot keep up); the run's minutes count from then. */
const RAMP_MS = Math.min(30_000, DURATION_MS * 0.25);
/** After the ramp, the load runs this long before the start sample (the rooms' first fill). */
const SETTLE_MS = Math.min(60_000, DURATION_MS * 0.2);
/** Each socket client acts once every 8-20 s; each SSE client resumes once every 20-60 s. */
const ACTION_MS: [number, number] = [8_000, 20_000];
const RESUBSCRIBE_MS: [number, number] = [20_000, 60_000];

const counts = {
  sent: 0,
  received: 0,
  sseReceived: 0,
  typing: 0,
  joins: 0,
  leaves: 0,
  reconnects: 0,
  resumes: 0,
  gaps: 0,
};
const errors = new Map<string, number>();
function error(where: string, code: string): void {
  const key = `${where}: ${code}`;
  errors.set(key, (errors.get(key) ?? 0) + 1);
}
const codeOf = (failure: unknown): string =>
  typeof (failure as { code?: unknown })?.code === 'string'
    ? String((failure as { code: string }).code)
    : String(failure);

const between = ([low, high]: [number, number]): number => low + Math.random() * (high - low);
const roomName = (index: number): string => `soak-${index}`;
const randomRoom = (): string => roomName(Math.floor(Math.random() * ROOMS));

let stopping = false;

// --- the cluster -----------------------------------------------------------------------------------

const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-soak-'));
const standIn = await ChildHandle.start<StandInCommands>({
  name: 'mongo-standin',
  entry: benchSource('servers/mongo-standin-server.ts'),
  core: undefined,
  logDir,
});
const mongoUri = String(standIn.info.uri);
const nodes = await Promise.all(
  ['soak-1', 'soak-2'].map((nodeId) =>
    ChildHandle.start<ServerCommands>({
      name: nodeId,
      entry: benchSource('servers/gateway-server.ts'),
      core: undefined,
      logDir,
      env: {
        PORT: '0',
        HOST: '127.0.0.1',
        NODE_ID: nodeId,
        MONGODB_URI: mongoUri,
        MONGODB_DB: 'soak',
        LOG_LEVEL: 'warn',
        NODE_ENV: 'production',
        ADAPTER_HEARTBEAT_INTERVAL_MS: '1000',
        ADAPTER_HEARTBEAT_TIMEOUT_MS: '5000',
        MAX_SOCKETS_PER_USER: '10',
      },
    }),
  ),
);
const urls = nodes.map((node) => String(node.info.url));

// --- the clients -----------------------------------------------------------------------------------

interface Actor {
  stop(): void;
}

function socketActor(index: number, transport: Transport, url: string): Actor {
  const userId = `soak-user-${index}`;
  let client: SwitchyardClient;
  let rooms = new Map<string, Room>();
  let timer: NodeJS.Timeout | undefined;

  const open = async (names: string[]): Promise<void> => {
    client = createClient(url, { userId, name: `soak ${index}`, transports: [transport], ackTimeoutMs: 15_000 });
    client.onError((failure) => error(`${transport} client`, failure.code));
    rooms = new Map();
    for (const name of names) await join(name);
  };
  const join = async (name: string): Promise<void> => {
    try {
      const room = await client.join(name);
      room.on('message', () => void (counts.received += 1));
      rooms.set(name, room);
      counts.joins += 1;
    } catch (failure) {
      if (!stopping) error(`${transport} join`, codeOf(failure));
    }
  };
  const act = async (): Promise<void> => {
    const joined = [...rooms.values()];
    const roll = Math.random();
    if (roll < 0.6 && joined.length > 0) {
      const room = joined[Math.floor(Math.random() * joined.length)] as Room;
      counts.sent += 1;
      await room.send(`message ${counts.sent} from ${index}`);
    } else if (roll < 0.7 && joined.length > 0) {
      (joined[0] as Room).typing();
      counts.typing += 1;
    } else if (roll < 0.8 && rooms.size < 3) {
      const name = randomRoom();
      if (!rooms.has(name)) await join(name);
    } else if (roll < 0.9 && rooms.size > 1) {
      const room = joined[joined.length - 1] as Room;
      rooms.delete(room.name);
      await room.leave();
      counts.leaves += 1;
    } else {
      const names = [...rooms.keys()];
      client.close();
      counts.reconnects += 1;
      await open(names);
    }
  };
  const loop = (): void => {
    timer = setTimeout(() => {
      act()
        .catch((failure: unknown) => !stopping && error(`${transport} request`, codeOf(failure)))
        .finally(() => !stopping && loop());
    }, between(ACTION_MS));
  };
  void open([randomRoom()]).then(loop);
  return {
    stop() {
      clearTimeout(timer);
      client?.close();
    },
  };
}

function sseActor(index: number, url: string): Actor {
  const room = roomName(index % ROOMS);
  let subscription: Subscription | undefined;
  let timer: NodeJS.Timeout | undefined;
  const open = (lastEventId?: string): void => {
    subscription = subscribe(url, room, {
      transport: 'fetch',
      ...(lastEventId === undefined ? {} : { lastEventId }),
    });
    subscription.on('message', () => void (counts.sseReceived += 1));
    subscription.on('gap', () => void (counts.gaps += 1));
    subscription.on('error', (failure) => !stopping && error('sse', failure.code));
    timer = setTimeout(() => {
      const resumeFrom = subscription?.lastEventId;
      subscription?.close();
      counts.resumes += 1;
      if (!stopping) open(resumeFrom);
    }, between(RESUBSCRIBE_MS));
  };
  open();
  return {
    stop() {
      clearTimeout(timer);
      subscription?.close();
    },
  };
}

// --- measurements ----------------------------------------------------------------------------------

interface Sample {
  heapUsed: number;
  rss: number;
  fds: number;
}

async function openFds(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((entry) => entry.startsWith('process_open_fds '));
  return line === undefined ? Number.NaN : Number(line.split(' ')[1]);
}

async function sample(): Promise<Sample[]> {
  return Promise.all(
    nodes.map(async (node, index) => {
      const stats = await node.call('stats');
      return { heapUsed: stats.heapUsed, rss: stats.rss, fds: await openFds(urls[index] as string) };
    }),
  );
}

const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
const change = (start: number, end: number): string =>
  `${end >= start ? '+' : ''}${(((end - start) / start) * 100).toFixed(1)} %`;

// --- the run ---------------------------------------------------------------------------------------

const started = Date.now();
const log = (message: string): void =>
  console.error(`[soak ${((Date.now() - started) / 1000).toFixed(0)} s] ${message}`);
log(`${CLIENTS} clients over ${MINUTES} min on 2 nodes (${urls.join(', ')}), logs in ${logDir}`);

const actors: Actor[] = [];
for (let index = 0; index < CLIENTS; index += 1) {
  const url = urls[index % urls.length] as string;
  const slot = index % 20;
  actors.push(
    slot < 9
      ? socketActor(index, 'websocket', url)
      : slot < 16
        ? socketActor(index, 'polling', url)
        : sseActor(index, url),
  );
  await sleep(RAMP_MS / CLIENTS);
}
const loadStarted = Date.now();
log('every client started');
await sleep(SETTLE_MS);
const first = await sample();
const firstAt = Date.now();
const sentAtStart = counts.sent;
log(`start: ${first.map((s) => `heap ${mib(s.heapUsed)}, ${s.fds} fds`).join(' | ')}`);

const progress = setInterval(
  () =>
    log(
      `sent ${counts.sent}, received ${counts.received} (+${counts.sseReceived} SSE), errors ${[...errors.values()].reduce((a, b) => a + b, 0)}`,
    ),
  60_000,
);
await sleep(Math.max(0, DURATION_MS - (Date.now() - loadStarted)));
clearInterval(progress);
const last = await sample();
const lastAt = Date.now();
stopping = true;
for (const actor of actors) actor.stop();

const alive = await Promise.all(
  urls.map(async (url) => {
    try {
      return (await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(5_000) })).status === 200;
    } catch {
      return false;
    }
  }),
);
const report = [
  `## Soak: ${CLIENTS} clients, ${MINUTES} min, 2 nodes (MongoDB mode on the stand-in)`,
  '',
  `Clients: ${Math.ceil((CLIENTS * 9) / 20)} WebSocket, ${Math.ceil((CLIENTS * 7) / 20)} long-polling, ${Math.floor((CLIENTS * 4) / 20)} SSE, over ${ROOMS} rooms; each socket client acts every 8-20 s (send 60 %, typing 10 %, join 10 %, leave 10 %, reconnect 10 %), each SSE client resumes from its last id every 20-60 s. Clients started over ${((loadStarted - started) / 1000).toFixed(0)} s; the start sample came ${((firstAt - loadStarted) / 1000).toFixed(0)} s later and the end sample ${((lastAt - firstAt) / 1000).toFixed(0)} s after it, both under load; heap after a forced GC.`,
  '',
  '| node | heap start | heap end | heap change | fds start | fds end | fds change | RSS start | RSS end |',
  '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ...nodes.map((node, index) => {
    const a = first[index] as Sample;
    const b = last[index] as Sample;
    return `| ${node.name}${alive[index] ? '' : ' (died)'} | ${mib(a.heapUsed)} | ${mib(b.heapUsed)} | ${change(a.heapUsed, b.heapUsed)} | ${a.fds} | ${b.fds} | ${change(a.fds, b.fds)} | ${mib(a.rss)} | ${mib(b.rss)} |`;
  }),
  '',
  `Traffic: ${counts.sent} messages sent (${counts.sent - sentAtStart} between the samples), ${counts.received} socket deliveries, ${counts.sseReceived} SSE deliveries, ${counts.typing} typing, ${counts.joins} joins, ${counts.leaves} leaves, ${counts.reconnects} reconnects, ${counts.resumes} SSE resumes (${counts.gaps} gaps).`,
  '',
  errors.size === 0 ? 'Errors: none.' : `Errors: ${[...errors].map(([key, count]) => `${key} × ${count}`).join(', ')}.`,
];
console.log(report.join('\n'));

await Promise.all([...nodes, standIn].map((child) => child.stop()));
process.exit(alive.every(Boolean) && errors.size === 0 ? 0 : 1);
