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

export interface FaultRunOptions {
  /** Numbered broadcasts per sender. */
  messages?: number;
  /** Pause between two broadcasts of one sender, ms. */
  spacingMs?: number;
  /** How often the fault is injected during the run. */
  rounds?: number;
  node?: NodeOptions;
  /** How the stand-in is started (e.g. `{ members: 3 }`); merged over FAULT_STANDIN_OPTIONS (JSON), if set. */
  standIn?: Parameters<typeof startMongo>[0];
}

export interface FaultRunResult {
  /** received[receiver][sender] = the numbers received, in arrival order. */
  received: number[][][];
  /** Gaps each receiving node reported. */
  gaps: number[];
  resumes: number[];
  duplicatesDropped: number[];
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
  const fromEnv = process.env.FAULT_STANDIN_OPTIONS
    ? (JSON.parse(process.env.FAULT_STANDIN_OPTIONS) as Parameters<typeof startMongo>[0])
    : {};
  const mongo: Mongo = await startMongo({ ...fromEnv, ...options.standIn });
  let nodes: Node[] = [];
  try {
    nodes = await startCluster(mongo, 3, options.node);
    const gaps = nodes.map(() => 0);
    const resumes = nodes.map(() => 0);
    nodes.forEach((node, i) => {
      node.factory.events.on('gap', () => gaps[i]!++);
      node.factory.events.on('resume', () => resumes[i]!++);
    });
    const clients = await Promise.all(nodes.map((node) => connect(node)));
    const received = clients.map(() => nodes.map(() => [] as number[]));
    clients.forEach((client, r) => client.on('n', (m: Numbered) => received[r]![m.from]!.push(m.n)));

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
