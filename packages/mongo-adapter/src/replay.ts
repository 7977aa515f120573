import { MessageType } from 'socket.io-adapter';
import type { ChangeStream, Collection, Document } from 'mongodb';
import { closeWithin } from './change-feed.js';
import { asMessageDocument, feedSees, fromStored, type MessageDocument } from './document.js';
import { isHistoryLost } from './errors.js';
import { errorMessage, type BoundLogger } from './logging.js';
import type { ParsedOffset } from './positions.js';

/**
 * A session restore's replay: the packets a client missed, read from the change stream after its offset.
 *
 * The client's offset (T, N, k) names a place in the delivery order of node N (see `positions.ts`): it has
 * every event of other origins up to stream token T and every own broadcast of N numbered up to k. The
 * replay, on this node (M, possibly N itself), reads the stream after T. Events of other origins are missed;
 * N's own broadcasts (which carry their place, `at`) are missed when numbered above k, wherever their write
 * landed. Of those, it keeps what M has delivered up to a cut, in M's delivery order:
 * - events M's live feed applied, at the place M applied them (per sender in sequence order, each right
 *   after the last of its predecessors in the stream);
 * - M's own broadcasts placed before the cut, at their place (`at`, `seq`). Their writes may land after the
 *   cut (or after T while M placed them before T): after the cut, the replay waits until every one of them
 *   is written, writes a marker behind them and reads on until the marker, collecting only those.
 * From the cut on, M delivers to the restored socket live (`RestoreHandoff`).
 *
 * Each replayed packet carries an offset of M naming its place in M's order, restorable (no `~u`) unless
 * that place cannot be named exactly (a packet the client already had comes later in M's order).
 */

/** The narrow view of the node a replay needs. */
export interface ReplayPort {
  readonly node: string;
  /** The message collection, for the replay's change stream. */
  readonly messages: Collection<Document>;
  readonly maxAwaitTimeMS: number;
  readonly restoreScanLimit: number;
  readonly log: BoundLogger;
  /** Whether the live feed applied this document here. */
  applied(doc: MessageDocument): boolean;
  /** The token of the latest event the live feed applied (tokens compare as strings in stream order). */
  latestApplied(): string | undefined;
  /** Whether what this node delivered from the stream is everything up to its latest token, right now. */
  inStreamOrder(): boolean;
  /** Whether this node's own documents (channel '') numbered up to `seq` are written or given up for good. */
  ownSettledThrough(seq: number): boolean;
  /** Writes a probe to this node's own channel; undefined if it was refused at once. */
  writeMarker(): { seq: number; written: Promise<void> } | undefined;
  /** The offset of a replayed packet. */
  replayOffset(token: string, k: number, clean: boolean): string;
}

export interface ReplayRequest {
  nsp: string;
  /** The client's offset. */
  from: ParsedOffset;
  /** The session's rooms (its own socket id included). */
  rooms: ReadonlySet<string>;
  deadline: number;
  /**
   * Called synchronously at the cut: from then on, what this node delivers reaches the restored socket live.
   * Returns the number of this node's latest own broadcast placed before the cut.
   */
  cut(): number;
}

export type ReplayResult =
  { ok: true; packets: unknown[][] } | { ok: false; reason: 'history-lost' | 'too-long' | 'error' };

interface ReadEvent {
  token: string;
  doc: MessageDocument;
  /** Index in stream order among the events read. */
  index: number;
}

export async function replayMissed(port: ReplayPort, request: ReplayRequest): Promise<ReplayResult> {
  const { deadline } = request;
  const stream = port.messages.watch(
    [{ $match: { operationType: 'insert', 'fullDocument.kind': { $in: ['message', 'probe', 'skip'] } } }],
    { resumeAfter: { _data: request.from.token }, maxAwaitTimeMS: Math.min(200, port.maxAwaitTimeMS) },
  );
  const read: ReadEvent[] = [];
  const identities = new Set<string>();
  let tail: OwnTail | undefined;
  let scanned = 0;
  const cut = (): OwnTail => new OwnTail(port, request.cut(), deadline);
  try {
    for (;;) {
      if (Date.now() > deadline || tail?.failed) return { ok: false, reason: 'too-long' };
      if (tail?.done) break;
      const change = await beforeDeadline(
        stream.tryNext() as Promise<{ _id?: { _data?: unknown }; fullDocument?: unknown } | null>,
        deadline,
      );
      if (change === TIMED_OUT) return { ok: false, reason: 'too-long' };
      if (!change) {
        // Empty getMore: the replay has read the stream up to its post-batch token.
        const position = (stream.resumeToken as { _data?: unknown } | null)?._data;
        if (!tail && typeof position === 'string' && caughtUpTo(port, position)) tail = cut();
        continue;
      }
      if (++scanned > port.restoreScanLimit) return { ok: false, reason: 'too-long' };
      const token = change._id?._data;
      const doc = asMessageDocument(change.fullDocument);
      if (typeof token !== 'string' || !doc) continue;
      const identity = `${doc.origin}\u0000${doc.to}\u0000${doc.seq}`;
      if (identities.has(identity)) continue;
      identities.add(identity);
      if (tail) {
        // After the cut, only this node's own broadcasts placed before it are still looked for.
        if (tail.isMarker(doc)) tail.done = true;
        else if (doc.origin === port.node && doc.seq <= tail.ownCut) read.push({ token, doc, index: read.length });
        continue;
      }
      if (feedSees(doc, port.node) && replayablePacket(doc, request.nsp)) {
        // The first packet the live feed has not applied: everything from here on is live. "Applied" is
        // everything up to a token only while the node delivers in stream order: wait for that.
        if ((await inStreamOrder(port, deadline)) === TIMED_OUT) return { ok: false, reason: 'too-long' };
        if (!port.applied(doc)) {
          tail = cut();
          continue;
        }
      }
      read.push({ token, doc, index: read.length });
      // The replay has reached what the live feed applied: everything later is live.
      if (caughtUpTo(port, token)) tail = cut();
    }
    return { ok: true, packets: arrange(port, request, read, tail.ownCut) };
  } catch (error) {
    if (isHistoryLost(error)) return { ok: false, reason: 'history-lost' };
    port.log.warn({ err: errorMessage(error) }, 'session replay failed');
    return { ok: false, reason: 'error' };
  } finally {
    await closeWithin(stream as ChangeStream, 1000);
  }
}

/**
 * After the cut: this node's own broadcasts placed before it may still be in the outbox. Once all are written
 * (or given up), a marker written behind them bounds the rest of the replay's reading.
 */
class OwnTail {
  done = false;
  failed = false;
  private markerSeq: number | undefined;

  constructor(
    private readonly port: ReplayPort,
    readonly ownCut: number,
    deadline: number,
  ) {
    // A node that never placed a broadcast of its own has nothing to wait for.
    if (ownCut <= 0) this.done = true;
    else void this.writeMarker(deadline);
  }

  isMarker(doc: MessageDocument): boolean {
    return (
      this.markerSeq !== undefined &&
      doc.kind === 'probe' &&
      doc.origin === this.port.node &&
      doc.to === this.port.node &&
      doc.seq === this.markerSeq
    );
  }

  private async writeMarker(deadline: number): Promise<void> {
    while (!this.port.ownSettledThrough(this.ownCut)) {
      if (Date.now() > deadline) {
        this.failed = true;
        return;
      }
      await sleep(5);
    }
    const marker = this.port.writeMarker();
    if (!marker) {
      this.failed = true;
      return;
    }
    this.markerSeq = marker.seq;
    marker.written.catch(() => (this.failed = true));
  }
}

interface Placed {
  kind: 'stream' | 'own';
  event: ReadEvent;
  /** Stream events: the token at which this node applied it (its own, or its last predecessor's). */
  releasedAt: string;
}

/** The missed packets for the session, in this node's delivery order, each with its offset. */
function arrange(port: ReplayPort, request: ReplayRequest, read: ReadEvent[], ownCut: number): unknown[][] {
  const { from, nsp, rooms } = request;
  const inOrder = merge(
    streamOrder(read.filter((e) => e.doc.origin !== port.node && feedSees(e.doc, port.node))),
    read
      .filter((e) => e.doc.origin === port.node && e.doc.at !== undefined && e.doc.seq <= ownCut)
      .sort((a, b) => a.doc.seq - b.doc.seq),
  );
  // What the client already had: N's own broadcasts numbered up to k (anything else read here is after T).
  const hadIt = (doc: MessageDocument) => doc.origin === from.node && doc.at !== undefined && doc.seq <= from.k;
  const kept: Array<Placed & { packet: ReplayablePacket }> = [];
  /**
   * The latest token of a packet for this session that the client had and this node applied after T (N's
   * write landed late): an offset of ours below it would make a later restore send it again.
   */
  let hadLatest = '';
  for (const placed of inOrder) {
    const packet = replayablePacket(placed.event.doc, nsp);
    if (!packet || !matchesRooms(packet, rooms)) continue;
    if (hadIt(placed.event.doc)) {
      if (placed.kind === 'stream' && placed.event.token > hadLatest) hadLatest = placed.event.token;
      continue;
    }
    kept.push({ ...placed, packet });
  }
  // Offsets: a later restore from one takes stream events after its token and own broadcasts above its k.
  // It is exact unless a later stream event of the replay comes before its token in the stream.
  const laterStreamMin: Array<string | undefined> = [];
  let min: string | undefined;
  for (let i = kept.length - 1; i >= 0; i--) {
    laterStreamMin[i] = min;
    const item = kept[i]!;
    if (item.kind === 'stream' && (min === undefined || item.event.token < min)) min = item.event.token;
  }
  const nextOwn: number[] = [];
  let next = ownCut + 1;
  for (let i = kept.length - 1; i >= 0; i--) {
    nextOwn[i] = next;
    if (kept[i]!.kind === 'own') next = kept[i]!.event.doc.seq;
  }
  let token = from.token;
  return kept.map((item, i) => {
    let k: number;
    if (item.kind === 'stream') {
      if (item.releasedAt > token) token = item.releasedAt;
      k = nextOwn[i]! - 1;
    } else {
      if (item.event.doc.at! > token) token = item.event.doc.at!;
      k = item.event.doc.seq;
    }
    const later = laterStreamMin[i];
    const clean = (later === undefined || later > token) && hadLatest <= token;
    return [...(fromStored(item.packet.data) as unknown[]), port.replayOffset(token, k, clean)];
  });
}

/**
 * Stream events in the order this node's live feed delivered them: per origin and channel in sequence
 * order, each right after the last of its predecessors in the stream (where the live sequencer released it).
 */
function streamOrder(events: ReadEvent[]): Placed[] {
  const byChannel = new Map<string, ReadEvent[]>();
  for (const event of events) {
    const key = `${event.doc.origin}\u0000${event.doc.to}`;
    const list = byChannel.get(key) ?? [];
    list.push(event);
    byChannel.set(key, list);
  }
  const releasedAt = new Map<ReadEvent, ReadEvent>();
  for (const list of byChannel.values()) {
    list.sort((a, b) => a.doc.seq - b.doc.seq);
    let at: ReadEvent | undefined;
    for (const event of list) {
      if (!at || event.index > at.index) at = event;
      releasedAt.set(event, at);
    }
  }
  return [...events]
    .sort((a, b) => releasedAt.get(a)!.index - releasedAt.get(b)!.index || a.doc.seq - b.doc.seq || a.index - b.index)
    .map((event) => ({ kind: 'stream' as const, event, releasedAt: releasedAt.get(event)!.token }));
}

/** This node's own broadcasts went out before every stream event applied after their place (`at`). */
function merge(stream: Placed[], own: ReadEvent[]): Placed[] {
  const placed: Placed[] = [];
  let o = 0;
  for (const item of stream) {
    while (o < own.length && own[o]!.doc.at! < item.releasedAt) {
      placed.push({ kind: 'own', event: own[o]!, releasedAt: own[o]!.doc.at! });
      o++;
    }
    placed.push(item);
  }
  for (; o < own.length; o++) placed.push({ kind: 'own', event: own[o]!, releasedAt: own[o]!.doc.at! });
  return placed;
}

/**
 * Whether the replay, having read the stream up to `position`, holds everything the live feed applied: the
 * live feed delivers in stream order and applied nothing after it. Synchronous with the cut that follows.
 */
function caughtUpTo(port: ReplayPort, position: string): boolean {
  if (!port.inStreamOrder()) return false;
  const applied = port.latestApplied();
  return applied === undefined || applied <= position;
}

/** Waits (bounded) until the node delivers in stream order. */
async function inStreamOrder(port: ReplayPort, deadline: number): Promise<true | typeof TIMED_OUT> {
  while (!port.inStreamOrder()) {
    if (Date.now() > deadline) return TIMED_OUT;
    await sleep(5);
  }
  return true;
}

export const TIMED_OUT = Symbol('timed out');

export async function beforeDeadline<T>(promise: Promise<T>, deadline: number): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined;
  promise.catch(() => undefined);
  try {
    return await Promise.race([
      promise,
      new Promise<typeof TIMED_OUT>(
        (resolve) => (timer = setTimeout(() => resolve(TIMED_OUT), Math.max(0, deadline - Date.now()))),
      ),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface ClusterBroadcastData {
  packet?: { data?: unknown };
  opts?: { rooms?: unknown; except?: unknown };
  requestId?: unknown;
}

export interface ReplayablePacket {
  /** The packet's data array as stored (BSON Binary not yet converted back). */
  data: unknown[];
  rooms: string[];
  except: string[];
}

/**
 * The broadcast a restore may replay from this document, if any: an event packet of this namespace without
 * ack and not volatile (`recoverable`). Live delivery keeps for a restoring socket exactly the same ones.
 */
export function replayablePacket(doc: MessageDocument, nsp: string): ReplayablePacket | undefined {
  if (doc.kind !== 'message' || doc.type !== MessageType.BROADCAST || !doc.recoverable || doc.nsp !== nsp) {
    return undefined;
  }
  const data = doc.data as ClusterBroadcastData | undefined;
  const packetData = data?.packet?.data;
  if (!Array.isArray(packetData) || data?.requestId !== undefined) return undefined;
  const strings = (value: unknown): string[] =>
    Array.isArray(value) ? value.filter((room): room is string => typeof room === 'string') : [];
  return { data: packetData, rooms: strings(data?.opts?.rooms), except: strings(data?.opts?.except) };
}

/** socket.io's rule: in one of the target rooms (or no rooms = everyone), and in none of the excluded ones. */
function matchesRooms(packet: ReplayablePacket, rooms: ReadonlySet<string>): boolean {
  const included = packet.rooms.length === 0 || packet.rooms.some((room) => rooms.has(room));
  return included && !packet.except.some((room) => rooms.has(room));
}
