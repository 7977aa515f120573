import type { MongoStandIn } from '@switchyard/mongo-standin';
import {
  closeClients,
  connect,
  sleep,
  startCluster,
  startMongo,
  waitFor,
  type Mongo,
  type Node,
  type NodeOptions,
} from './support.js';

type StandInOptions = Parameters<typeof startMongo>[0];

const standInFromEnv: StandInOptions | undefined = process.env.FAULT_STANDIN_OPTIONS
  ? (JSON.parse(process.env.FAULT_STANDIN_OPTIONS) as StandInOptions)
  : undefined;

/**
 * The stand-ins every fault case that makes sense on both runs on: one member, and a three-member replica
 * set (a step-down there is an election of another member, and w: majority waits for a secondary).
 * FAULT_STANDIN_OPTIONS (JSON) runs them on that one shape only.
 */
export const STANDIN_SHAPES: ReadonlyArray<{ label: string; standIn: StandInOptions }> = standInFromEnv
  ? [{ label: `FAULT_STANDIN_OPTIONS ${JSON.stringify(standInFromEnv)}`, standIn: {} }]
  : [
      { label: '1 member', standIn: { members: 1 } },
      { label: '3 members', standIn: { members: 3 } },
    ];

/**
 * FAULT_DEFAULT_TIMINGS=1: nodes run with the adapter's and the driver's default timings (5 s heartbeats,
 * 10 s heartbeat timeout, 30 s server selection...) instead of the tests' quick ones, as in production.
 */
const DEFAULT_TIMINGS: NodeOptions | undefined =
  process.env.FAULT_DEFAULT_TIMINGS === '1'
    ? {
        adapter: {
          heartbeatInterval: 5000,
          heartbeatTimeout: 10_000,
          maxAwaitTimeMS: 1000,
          backoff: { initialMs: 100, maxMs: 10_000 },
          localDeliveryTimeoutMs: 10_000,
          operationTimeoutMs: 5000,
          closeTimeoutMs: 15_000,
        },
        client: { serverSelectionTimeoutMS: 30_000, heartbeatFrequencyMS: 10_000 },
      }
    : undefined;

/** Resolves once the stand-in has a primary again (after a failover or step-down). */
export async function primaryElected(standIn: MongoStandIn, timeoutMs = 60_000): Promise<void> {
  await waitFor('a primary to be elected', () => standIn.primary !== undefined, timeoutMs);
}

export interface FaultRunOptions {
  /** Numbered broadcasts per sender. */
  messages?: number;
  /** Pause between two broadcasts of one sender, ms. */
  spacingMs?: number;
  /** How often the fault is injected during the run. */
  rounds?: number;
  node?: NodeOptions;
  /** How the stand-in is started (e.g. `{ members: 3 }`); merged over FAULT_STANDIN_OPTIONS (JSON), if set. */
  standIn?: StandInOptions;
  /** Runs once the cluster is up, before any message (e.g. a replication lag that lasts the whole run). */
  before?: (standIn: MongoStandIn) => void;
}

export interface FaultRunResult {
  /** received[receiver][sender] = the numbers received, in arrival order. */
  received: number[][][];
  /** Gaps each receiving node reported. */
  gaps: number[];
  resumes: number[];
  duplicatesDropped: number[];
  /** `node-left` events each node emitted (any namespace, any reason). */
  nodeLeft: number[];
  /** The same, as `<node index>:<reason>` per event. */
  nodeLeftDetail: string[][];
  /** Times each node declared itself deaf. */
  deafSpells: number[];
  /** Messages each client got from its own node while the stand-in had no primary. */
  ownWhileNoPrimary: number[];
  /** Every status each node reported (`state` events), in order, repeats collapsed. */
  statuses: string[][];
  messages: number;
}

interface Numbered {
  from: number;
  n: number;
}

/**
 * Three nodes exchange numbered broadcasts (each sender 0..messages-1, then a sentinel once the faults are
 * cleared) while `inject` breaks MongoDB `rounds` times. Returns what every client received.
 */
export async function faultRun(
  inject: (standIn: MongoStandIn, round: number) => Promise<void> | void,
  options: FaultRunOptions = {},
): Promise<FaultRunResult> {
  const messages = options.messages ?? 120;
  const spacingMs = options.spacingMs ?? 8;
  const rounds = options.rounds ?? 3;
  const mongo: Mongo = await startMongo({ ...standInFromEnv, ...options.standIn });
  let nodes: Node[] = [];
  try {
    const nodeOptions = DEFAULT_TIMINGS
      ? {
          ...options.node,
          adapter: { ...options.node?.adapter, ...DEFAULT_TIMINGS.adapter },
          client: DEFAULT_TIMINGS.client,
        }
      : options.node;
    nodes = await startCluster(mongo, 3, nodeOptions);
    const gaps = nodes.map(() => 0);
    const resumes = nodes.map(() => 0);
    const nodeLeft = nodes.map(() => 0);
    const nodeLeftDetail = nodes.map(() => [] as string[]);
    const uids = nodes.map((node) => node.adapter().health().node);
    const statuses = nodes.map(() => [] as string[]);
    nodes.forEach((node, i) => {
      const uid = node.adapter().health().node;
      node.factory.events.on('gap', () => gaps[i]!++);
      node.factory.events.on('resume', () => resumes[i]!++);
      node.factory.events.on('node-left', ({ node: from, uid: left, reason }) => {
        if (from !== uid) return;
        nodeLeft[i]!++;
        nodeLeftDetail[i]!.push(`${uids.indexOf(left)}:${reason}`);
      });
      node.factory.events.on('state', ({ node: from, status }) => {
        if (from === uid && statuses[i]!.at(-1) !== status) statuses[i]!.push(status);
      });
    });
    options.before?.(mongo.standIn!);
    const clients = await Promise.all(nodes.map((node) => connect(node)));
    const received = clients.map(() => nodes.map(() => [] as number[]));
    const ownWhileNoPrimary = nodes.map(() => 0);
    clients.forEach((client, r) =>
      client.on('n', (m: Numbered) => {
        received[r]![m.from]!.push(m.n);
        if (m.from === r && mongo.standIn!.primary === undefined) ownWhileNoPrimary[r]!++;
      }),
    );

    const senders = nodes.map(async (node, from) => {
      for (let n = 0; n < messages; n++) {
        node.io.emit('n', { from, n });
        await sleep(spacingMs);
      }
    });
    const injector = (async () => {
      const period = Math.floor((messages * spacingMs) / (rounds + 1));
      for (let round = 0; round < rounds; round++) {
        await sleep(period);
        await inject(mongo.standIn!, round);
      }
    })();
    await Promise.all([...senders, injector]);
    mongo.standIn!.faults.reset();
    // Sentinels, sent once MongoDB behaves: every receiver must get them, gap or not.
    nodes.forEach((node, from) => node.io.emit('n', { from, n: messages }));
    try {
      await waitFor(
        'every sentinel at every receiver',
        () => received.every((bySender) => bySender.every((ns) => ns.includes(messages))),
        25_000,
      );
    } catch (error) {
      const summary = received.map((bySender, r) =>
        bySender.map((ns, s) => `${r}<-${s}: ${ns.length} last ${ns[ns.length - 1]}`).join(', '),
      );
      const health = nodes.map((node) => JSON.stringify({ ...node.adapter().health(), gaps: undefined }));
      throw new Error(`${(error as Error).message}\n${summary.join('\n')}\n${health.join('\n')}`);
    }
    return {
      received,
      gaps,
      resumes,
      duplicatesDropped: nodes.map((node) => node.adapter().health().counters.duplicates),
      nodeLeft,
      nodeLeftDetail,
      deafSpells: nodes.map((node) => node.adapter().health().counters.deafSpells),
      ownWhileNoPrimary,
      statuses,
      messages,
    };
  } finally {
    closeClients();
    await Promise.all(nodes.map((node) => node.close()));
    await mongo.stop();
  }
}

/**
 * Exactly once and in per-sender order at every receiver; a receiver whose node reported a gap may miss
 * messages (never receive one twice, never out of order). Returns the problems found (empty = pass).
 */
export function deliveryProblems(result: FaultRunResult): string[] {
  const problems: string[] = [];
  const all = Array.from({ length: result.messages + 1 }, (_, i) => i);
  result.received.forEach((bySender, receiver) => {
    bySender.forEach((ns, sender) => {
      for (let i = 1; i < ns.length; i++) {
        if (ns[i]! <= ns[i - 1]!)
          problems.push(`receiver ${receiver} got ${ns[i]} after ${ns[i - 1]} from sender ${sender}`);
      }
      const missing = all.filter((n) => !ns.includes(n));
      if (missing.length > 0 && result.gaps[receiver] === 0 && receiver !== sender) {
        problems.push(
          `receiver ${receiver} is missing ${missing.length} messages of sender ${sender} (first ${missing[0]}) without a reported gap`,
        );
      }
      if (missing.length > 0 && receiver === sender)
        problems.push(`receiver ${receiver} missed its own node's messages`);
    });
  });
  return problems;
}

/** What a run did besides delivering, for DEBUG_FAULTS and failure messages. */
export function summary(result: FaultRunResult): Record<string, unknown> {
  return {
    gaps: result.gaps,
    resumes: result.resumes,
    dups: result.duplicatesDropped,
    nodeLeft: result.nodeLeftDetail,
    deafSpells: result.deafSpells,
    ownWhileNoPrimary: result.ownWhileNoPrimary,
    statuses: result.statuses,
  };
}
