import { MessageType } from 'socket.io-adapter';
import type { ChangeStream, Collection, Document, WriteConcernSettings } from 'mongodb';
import { closeWithin } from './change-feed.js';
import {
  asMessageDocument,
  documentBytes,
  feedSees,
  fromStored,
  toStorable,
  type MessageDocument,
} from './document.js';
import { isHistoryLost } from './errors.js';
import { errorMessage, type BoundLogger } from './logging.js';
import { parseOffset } from './positions.js';

/**
 * Connection state recovery across nodes.
 *
 * Offsets (see `positions.ts`) name a prefix of the change stream, plus the node's private-packet counter.
 *
 * Private packets (every target socket on this node) get `k = ++counter` and are kept in a small
 * per-socket log, written into the session document when the socket disconnects. (They are also written
 * to MongoDB, marked `privateTo`, for sockets of other nodes in a room of that name; receivers never
 * deliver or replay them to the private targets.)
 *
 * Restore on any node: take the session document (findOneAndDelete: restorable once, checked against its
 * expiry), wait until this node's live feed has caught up with "now" (so it has applied the client's offset
 * too), reopen a change stream after the offset's token and replay what the live feed has already applied,
 * up to a cut. What the feed applies after the cut is kept by the adapter for the socket
 * (`RestoreHandoff`) and written to it when socket.io connects it. If the history is gone (286), or
 * anything cannot be done within `restoreTimeoutMs`, the restore fails cleanly: never a restore with holes.
 */

/** The narrow view of the node a restore needs. */
export interface RecoveryPort {
  readonly node: string;
  /** Where sessions live. */
  readonly sessions: Collection<Document>;
  /** The message collection, for the replay's change stream. */
  readonly messages: Collection<Document>;
  readonly writeConcern: WriteConcernSettings;
  readonly maxAwaitTimeMS: number;
  readonly restoreScanLimit: number;
  readonly restoreTimeoutMs: number;
  /** Bytes of private packets one session document may hold. */
  readonly privateLogBytes: number;
  readonly log: BoundLogger;
  /** Resolves true once the live feed has read everything committed before the call. */
  caughtUp(): Promise<boolean>;
  /** Whether the live feed applied this document here. */
  applied(doc: MessageDocument): boolean;
  /** The token of the latest event the live feed applied (tokens compare as strings in stream order). */
  latestApplied(): string | undefined;
  /** Whether what this namespace delivered is a prefix of the stream right now. */
  inStreamOrder(): boolean;
  /** Messages may be missing on this node since this time. */
  gapSince(time: number): boolean;
  /** The offset a replayed packet gets (`clean`: the packets before it in the replay are a stream prefix). */
  replayOffset(token: string, clean: boolean): string;
}

export interface PrivateEntry {
  base: string;
  k: number;
  /** The packet's data array, its offset already appended: exactly what is sent again. */
  data: unknown[];
}

interface SocketLog {
  entries: PrivateEntry[];
  /** Largest `k` dropped from this log for lack of room (-1: none). */
  droppedK: number;
}

/** Per-socket logs of private packets, bounded by count. */
export class PrivateLog {
  private readonly logs = new Map<string, SocketLog>();

  constructor(private readonly maxEntries: number) {}

  record(sids: Iterable<string>, entry: PrivateEntry): void {
    for (const sid of sids) {
      let log = this.logs.get(sid);
      if (!log) this.logs.set(sid, (log = { entries: [], droppedK: -1 }));
      log.entries.push(entry);
      if (log.entries.length > this.maxEntries) log.droppedK = log.entries.shift()!.k;
    }
  }

  take(sid: string): SocketLog | undefined {
    const log = this.logs.get(sid);
    this.logs.delete(sid);
    return log;
  }

  forget(sid: string): void {
    this.logs.delete(sid);
  }
}

/** Session writes in flight: a closing node waits for them (bounded), so a draining node's sessions are stored. */
export class PendingWrites {
  private readonly writes = new Set<Promise<void>>();

  track(write: Promise<void>): Promise<void> {
    this.writes.add(write);
    const forget = () => this.writes.delete(write);
    write.then(forget, forget);
    return write;
  }

  async settled(timeoutMs: number): Promise<void> {
    if (this.writes.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.writes]),
      new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs))),
    ]);
    clearTimeout(timer);
  }
}

export interface SessionToPersist {
  sid: string;
  pid: string;
  rooms: string[];
  data: unknown;
}

export interface RestoredSession extends SessionToPersist {
  missedPackets: unknown[][];
}

export interface SessionDocument {
  _id: string;
  v: 1;
  kind: 'session';
  nsp: string;
  pid: string;
  sid: string;
  rooms: string[];
  data: unknown;
  privates: PrivateEntry[];
  droppedK: number;
  /** Uid of the node that wrote it (private offsets are comparable only with offsets of the same node). */
  node: string;
  disconnectedAt: Date;
  /**
   * disconnectedAt + maxDisconnectionDuration; the field of the sessions' TTL index. (No `createdAt`: the
   * messages' TTL must not cut a session short when both share a collection.)
   */
  expiresAt: Date;
}

export function sessionKey(nsp: string, pid: string): string {
  return `${pid}@${nsp}`;
}

export async function persistSession(
  port: RecoveryPort,
  nsp: string,
  session: SessionToPersist,
  log: SocketLog | undefined,
  maxDisconnectionDuration: number,
): Promise<void> {
  const now = Date.now();
  let privates = log?.entries ?? [];
  let droppedK = log?.droppedK ?? -1;
  if (privates.length > 0) {
    const sizes = privates.map((p) => documentBytes({ p: toStorable(p.data) }));
    let total = sizes.reduce((a, b) => a + b, 0);
    let first = 0;
    while (first < privates.length && total > port.privateLogBytes) {
      total -= sizes[first]!;
      droppedK = privates[first]!.k;
      first++;
    }
    privates = privates.slice(first);
  }
  const doc: SessionDocument = {
    _id: sessionKey(nsp, session.pid),
    v: 1,
    kind: 'session',
    nsp,
    pid: session.pid,
    sid: session.sid,
    rooms: session.rooms,
    data: toStorable(session.data),
    privates: privates.map((p) => ({ base: p.base, k: p.k, data: toStorable(p.data) as unknown[] })),
    droppedK,
    node: port.node,
    disconnectedAt: new Date(now),
    expiresAt: new Date(now + maxDisconnectionDuration),
  };
  // A replacement, not a field update: documents of a capped collection must keep their size.
  await port.sessions.replaceOne({ _id: doc._id } as Document, doc as unknown as Document, {
    upsert: true,
    writeConcern: port.writeConcern,
  });
}

export type RestoreFailure =
  | 'unknown-offset'
  | 'reordered-offset'
  | 'unknown-session'
  | 'expired'
  | 'gap'
  | 'history-lost'
  | 'private-log-truncated'
  | 'too-long'
  | 'not-hearing'
  | 'error';

export type RestoreOutcome = { ok: true; session: RestoredSession } | { ok: false; reason: RestoreFailure };

interface ClusterBroadcastData {
  packet?: { data?: unknown };
  opts?: { rooms?: unknown; except?: unknown };
  requestId?: unknown;
}

/**
 * Called synchronously at the replay's cut, with the restored socket's id and rooms: from this moment on,
 * packets this node delivers live are not in the replay, and must reach the socket once it connects.
 */
export type ReplayCut = (sid: string, rooms: readonly string[]) => void;

export async function restoreSession(
  port: RecoveryPort,
  nsp: string,
  pid: string,
  offset: string,
  onCut: ReplayCut,
): Promise<RestoreOutcome> {
  const parsed = parseOffset(offset);
  if (!parsed) return { ok: false, reason: 'unknown-offset' };
  if (!parsed.clean) return { ok: false, reason: 'reordered-offset' };
  const deadline = Date.now() + port.restoreTimeoutMs;
  // The client's offset may name an event this node has not applied yet (it lags the node that served
  // the client). Live delivery would then hand the restored socket packets it already has: wait until this
  // node's feed has read everything written before now. Started at once, it runs during the lookup.
  const caughtUp = port.caughtUp();
  let stored = await takeSession(port, nsp, pid);
  if (!stored) {
    // The disconnect may have happened a moment ago on another node, its session write still in flight.
    await new Promise((resolve) => setTimeout(resolve, 200));
    stored = await takeSession(port, nsp, pid);
  }
  if (!stored) return { ok: false, reason: 'unknown-session' };
  const now = Date.now();
  if (!(stored.expiresAt instanceof Date) || stored.expiresAt.getTime() < now) return { ok: false, reason: 'expired' };
  if (port.gapSince(stored.disconnectedAt.getTime())) return { ok: false, reason: 'gap' };
  const sameNode = parsed.node === stored.node;
  if (stored.droppedK >= 0 && (!sameNode || parsed.k < stored.droppedK))
    return { ok: false, reason: 'private-log-truncated' };

  const barrier = await beforeDeadline(caughtUp, deadline);
  if (barrier === TIMED_OUT) return { ok: false, reason: 'too-long' };
  if (!barrier) return { ok: false, reason: 'not-hearing' };

  const session = stored;
  const replay = await replayBroadcasts(port, nsp, parsed.token, session, deadline, () =>
    onCut(session.sid, session.rooms),
  );
  if (!replay.ok) return replay;

  const privates = stored.privates.filter((p) => !sameNode || p.k > parsed.k).sort((a, b) => a.k - b.k);
  const missedPackets: unknown[][] = [];
  const byPosition = new Map<number, PrivateEntry[]>();
  for (const p of privates) {
    const position = p.base === parsed.token ? 0 : (replay.positions.get(p.base) ?? replay.packets.length);
    const list = byPosition.get(position) ?? [];
    list.push(p);
    byPosition.set(position, list);
  }
  const pushPrivates = (position: number) => {
    for (const p of byPosition.get(position) ?? []) missedPackets.push(fromStored(p.data) as unknown[]);
  };
  pushPrivates(0);
  replay.packets.forEach((packet, index) => {
    missedPackets.push([...packet.data, packet.offset]);
    pushPrivates(index + 1);
  });
  return {
    ok: true,
    session: { sid: stored.sid, pid: stored.pid, rooms: stored.rooms, data: fromStored(stored.data), missedPackets },
  };
}

async function takeSession(port: RecoveryPort, nsp: string, pid: string): Promise<SessionDocument | undefined> {
  const doc = await port.sessions.findOneAndDelete({ _id: sessionKey(nsp, pid) } as Document, {
    writeConcern: port.writeConcern,
  });
  const session = doc as SessionDocument | null;
  if (!session || session.kind !== 'session') return undefined;
  return session;
}

interface ReplayedPacket {
  token: string;
  data: unknown[];
  offset: string;
}

type ReplayResult =
  | { ok: true; packets: ReplayedPacket[]; positions: Map<string, number> }
  | { ok: false; reason: 'history-lost' | 'too-long' | 'error' };

interface Candidate {
  token: string;
  doc: MessageDocument;
  /** Index in stream order. */
  index: number;
  replayable: ReplayablePacket | undefined;
}

/**
 * Reads the stream after `token` and returns the broadcasts for this session that this node's live feed
 * has already applied, in the order it applied them, plus for every event seen the number of packets kept
 * before it (to place private packets). Stops at the first replayable event the live feed has not applied
 * yet (or at the end of the stream) and calls `onCut` right there, before anything else can run: from there
 * on the restored socket gets packets live (kept by the adapter until socket.io has attached it). A cut is
 * only taken while the node delivers in stream order, so "applied" is exactly a prefix.
 */
async function replayBroadcasts(
  port: RecoveryPort,
  nsp: string,
  token: string,
  session: SessionDocument,
  deadline: number,
  onCut: () => void,
): Promise<ReplayResult> {
  const stream = port.messages.watch(
    [{ $match: { operationType: 'insert', 'fullDocument.kind': { $in: ['message', 'probe', 'skip'] } } }],
    { resumeAfter: { _data: token }, maxAwaitTimeMS: Math.min(200, port.maxAwaitTimeMS) },
  );
  const rooms = new Set(session.rooms);
  const candidates: Candidate[] = [];
  const seen = new Set<string>();
  let scanned = 0;
  try {
    for (;;) {
      if (Date.now() > deadline) return { ok: false, reason: 'too-long' };
      const change = await beforeDeadline(
        stream.tryNext() as Promise<{ _id?: { _data?: unknown }; fullDocument?: unknown } | null>,
        deadline,
      );
      if (change === TIMED_OUT) return { ok: false, reason: 'too-long' };
      if (!change) {
        // Empty getMore: the replay has read the stream up to its post-batch token.
        const read = (stream.resumeToken as { _data?: unknown } | null)?._data;
        if (typeof read === 'string' && caughtUpTo(port, read)) {
          onCut();
          break;
        }
        continue;
      }
      if (++scanned > port.restoreScanLimit) return { ok: false, reason: 'too-long' };
      const eventToken = change._id?._data;
      const doc = asMessageDocument(change.fullDocument);
      if (typeof eventToken !== 'string' || !doc) continue;
      const identity = `${doc.origin}\u0000${doc.to}\u0000${doc.seq}`;
      if (seen.has(identity)) continue;
      seen.add(identity);
      const replayable = replayablePacket(doc, nsp, port.node, session.sid);
      if (replayable && feedSees(doc, port.node)) {
        // The first packet for this session the live feed has not applied: everything from here on is live.
        // "Applied" is a prefix of the stream only while the node delivers in stream order: wait for that.
        if ((await inStreamOrder(port, deadline)) === TIMED_OUT) return { ok: false, reason: 'too-long' };
        if (!port.applied(doc)) {
          onCut();
          break;
        }
      }
      candidates.push({ token: eventToken, doc, index: candidates.length, replayable });
      // The replay has reached what the live feed applied: everything later is live.
      if (caughtUpTo(port, eventToken)) {
        onCut();
        break;
      }
    }
    return { ok: true, ...inDeliveryOrder(candidates, rooms, port) };
  } catch (error) {
    if (isHistoryLost(error)) return { ok: false, reason: 'history-lost' };
    port.log.warn({ err: errorMessage(error) }, 'session replay failed');
    return { ok: false, reason: 'error' };
  } finally {
    await closeWithin(stream as ChangeStream, 1000);
  }
}

/**
 * Whether the replay, having read the stream up to `read`, holds everything the live feed applied: the live
 * feed delivers in stream order and applied nothing after `read`. Synchronous with the cut that follows.
 */
function caughtUpTo(port: RecoveryPort, read: string): boolean {
  if (!port.inStreamOrder()) return false;
  const applied = port.latestApplied();
  return applied === undefined || applied <= read;
}

/** Waits (bounded) until the node delivers in stream order. */
async function inStreamOrder(port: RecoveryPort, deadline: number): Promise<true | typeof TIMED_OUT> {
  while (!port.inStreamOrder()) {
    if (Date.now() > deadline) return TIMED_OUT;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return true;
}

/**
 * The replay in the order the live feed delivered it: per origin and channel in sequence order, each
 * document right after the last of its predecessors in the stream (where the live sequencer released it).
 */
function inDeliveryOrder(
  candidates: Candidate[],
  rooms: Set<string>,
  port: RecoveryPort,
): { packets: ReplayedPacket[]; positions: Map<string, number> } {
  const byChannel = new Map<string, Candidate[]>();
  for (const candidate of candidates) {
    const key = `${candidate.doc.origin}\u0000${candidate.doc.to}`;
    const list = byChannel.get(key) ?? [];
    list.push(candidate);
    byChannel.set(key, list);
  }
  const releasedAt = new Map<Candidate, number>();
  for (const list of byChannel.values()) {
    list.sort((a, b) => a.doc.seq - b.doc.seq);
    let at = -1;
    for (const candidate of list) {
      at = Math.max(at, candidate.index);
      releasedAt.set(candidate, at);
    }
  }
  const ordered = [...candidates].sort(
    (a, b) => releasedAt.get(a)! - releasedAt.get(b)! || a.doc.seq - b.doc.seq || a.index - b.index,
  );
  const kept = ordered.filter((c) => c.replayable && matchesRooms(c.replayable, rooms));
  // A replayed packet's offset is restorable only if every packet after it in the replay comes later in the stream.
  const laterMin: string[] = [];
  let min: string | undefined;
  for (let i = kept.length - 1; i >= 0; i--) {
    laterMin[i] = min ?? '';
    const token = kept[i]!.token;
    if (min === undefined || token < min) min = token;
  }
  const packets: ReplayedPacket[] = [];
  let greatest = '';
  kept.forEach((candidate, i) => {
    if (candidate.token > greatest) greatest = candidate.token;
    const clean = i === kept.length - 1 || laterMin[i]! > greatest;
    packets.push({
      token: candidate.token,
      data: fromStored(candidate.replayable!.data) as unknown[],
      offset: port.replayOffset(greatest, clean),
    });
  });
  const positions = new Map<string, number>();
  let count = 0;
  for (const candidate of ordered) {
    if (candidate.replayable && matchesRooms(candidate.replayable, rooms)) count++;
    positions.set(candidate.token, count);
  }
  return { packets, positions };
}

const TIMED_OUT = Symbol('timed out');

async function beforeDeadline<T>(promise: Promise<T>, deadline: number): Promise<T | typeof TIMED_OUT> {
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

export interface ReplayablePacket {
  /** The packet's data array as stored (BSON Binary not yet converted back). */
  data: unknown[];
  rooms: string[];
  except: string[];
}

/**
 * The broadcast a restore replays from this document to socket `sid`, if any: an event packet of this
 * namespace without ack and not volatile (`recoverable`), that this node's live feed delivers (not one of
 * its own that it delivered privately), and not a private packet of `sid` itself (those are in the
 * session). Live delivery keeps for a restoring socket exactly the same ones.
 */
export function replayablePacket(
  doc: MessageDocument,
  nsp: string,
  node: string,
  sid: string,
): ReplayablePacket | undefined {
  if (doc.kind !== 'message' || doc.type !== MessageType.BROADCAST || !doc.recoverable || doc.nsp !== nsp) {
    return undefined;
  }
  if (doc.origin === node && !doc.echo) return undefined;
  if (doc.privateTo?.includes(sid)) return undefined;
  const data = doc.data as ClusterBroadcastData | undefined;
  const packetData = data?.packet?.data;
  if (!Array.isArray(packetData) || data?.requestId !== undefined) return undefined;
  const strings = (value: unknown): string[] =>
    Array.isArray(value) ? value.filter((room): room is string => typeof room === 'string') : [];
  return { data: packetData, rooms: strings(data?.opts?.rooms), except: strings(data?.opts?.except) };
}

/** socket.io's rule: in one of the target rooms (or no rooms = everyone), and in none of the excluded ones. */
function matchesRooms(packet: ReplayablePacket, rooms: Set<string>): boolean {
  const included = packet.rooms.length === 0 || packet.rooms.some((room) => rooms.has(room));
  return included && !packet.except.some((room) => rooms.has(room));
}
