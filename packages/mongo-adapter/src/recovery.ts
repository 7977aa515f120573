import type { Document } from 'mongodb';
import type { Bus } from './bus.js';
import {
  asMessageDocument,
  documentBytes,
  feedSees,
  fromStored,
  toStorable,
  type MessageDocument,
} from './document.js';
import { closeWithin } from './change-feed.js';
import { errorFacts, isHistoryLost } from './errors.js';

/**
 * Connection state recovery across nodes.
 *
 * Offsets. Every packet a node delivers carries `<token>~<node>~<k>`: `token` is the resume token `_data`
 * of the last change event delivered by that node (the server's order, the same on every node), `node` the
 * node's uid and `k` its private-packet counter at that moment. Broadcasts are delivered, on every node
 * including their origin, in change-stream order, so a client's last offset names a prefix of the stream.
 *
 * Private packets (every target socket on this node) never leave the node: they get `k = ++counter` and
 * are kept in a small per-socket log, written into the session document when the socket disconnects.
 * Their order against broadcasts is exact on their node: a private packet with a larger `k` was sent after
 * every packet (broadcast or private) whose offset has a smaller or equal `k`.
 *
 * Restore on any node: take the session document (findOneAndDelete: restorable once, checked against its
 * expiry), wait until this node's live feed has caught up with "now" (so it has dispatched the client's
 * offset too), reopen a change stream with `resumeAfter: token` and replay what the live feed has already
 * dispatched, up to a cut. What the feed dispatches after the cut is kept by the adapter for the socket
 * (`RestoreHandoff`) and written to it when socket.io connects it. If the history is gone (286), or
 * anything cannot be done within `restoreTimeoutMs`, the restore fails cleanly: never a restore with holes.
 */

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

export interface ParsedOffset {
  token: string;
  node: string;
  k: number;
}

const OFFSET_PATTERN = /^([0-9A-Za-z+/=_-]{1,1024})~([0-9a-f]{16})~(\d{1,15})$/;

export function parseOffset(offset: unknown): ParsedOffset | undefined {
  if (typeof offset !== 'string') return undefined;
  const match = OFFSET_PATTERN.exec(offset);
  if (!match) return undefined;
  return { token: match[1]!, node: match[2]!, k: Number(match[3]) };
}

export async function persistSession(
  bus: Bus,
  nsp: string,
  session: SessionToPersist,
  log: SocketLog | undefined,
  maxDisconnectionDuration: number,
): Promise<void> {
  const now = Date.now();
  let privates = log?.entries ?? [];
  let droppedK = log?.droppedK ?? -1;
  const budget = bus.options.privateLogBytes;
  if (privates.length > 0) {
    const sizes = privates.map((p) => documentBytes({ p: toStorable(p.data) }));
    let total = sizes.reduce((a, b) => a + b, 0);
    let first = 0;
    while (first < privates.length && total > budget) {
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
    node: bus.uid,
    disconnectedAt: new Date(now),
    expiresAt: new Date(now + maxDisconnectionDuration),
  };
  const { _id, ...fields } = doc;
  await bus.sessions.updateOne(
    { _id } as Document,
    { $set: fields },
    { upsert: true, writeConcern: bus.options.writeConcern },
  );
}

export type RestoreOutcome =
  | { ok: true; session: RestoredSession }
  | {
      ok: false;
      reason:
        | 'unknown-offset'
        | 'unknown-session'
        | 'expired'
        | 'gap'
        | 'history-lost'
        | 'private-log-truncated'
        | 'too-long'
        | 'not-hearing'
        | 'error';
    };

interface ClusterBroadcastData {
  packet?: { data?: unknown };
  opts?: { rooms?: unknown; except?: unknown };
  requestId?: unknown;
}

const BROADCAST = 3;

/**
 * Called synchronously at the replay's cut, with the restored socket's id and rooms: from this moment on,
 * packets this node delivers live are not in the replay, and must reach the socket once it connects.
 */
export type ReplayCut = (sid: string, rooms: readonly string[]) => void;

export async function restoreSession(
  bus: Bus,
  nsp: string,
  pid: string,
  offset: string,
  onCut: ReplayCut,
): Promise<RestoreOutcome> {
  const parsed = parseOffset(offset);
  if (!parsed) return { ok: false, reason: 'unknown-offset' };
  const deadline = Date.now() + bus.options.restoreTimeoutMs;
  // The client's offset may name an event this node has not dispatched yet (it lags the node that served
  // the client). Live delivery would then hand the restored socket packets it already has: wait until this
  // node's feed has dispatched everything written before now. Started at once, it runs during the lookup.
  const caughtUp = bus.barrier();
  let stored = await takeSession(bus, nsp, pid);
  if (!stored) {
    // The disconnect may have happened a moment ago on another node, its session write still in flight.
    await new Promise((resolve) => setTimeout(resolve, 200));
    stored = await takeSession(bus, nsp, pid);
  }
  if (!stored) return { ok: false, reason: 'unknown-session' };
  const now = Date.now();
  if (!(stored.expiresAt instanceof Date) || stored.expiresAt.getTime() < now) return { ok: false, reason: 'expired' };
  if (bus.gapsSince(stored.disconnectedAt.getTime()).length > 0) return { ok: false, reason: 'gap' };
  const sameNode = parsed.node === stored.node;
  if (stored.droppedK >= 0 && (!sameNode || parsed.k < stored.droppedK))
    return { ok: false, reason: 'private-log-truncated' };

  const barrier = await beforeDeadline(caughtUp, deadline);
  if (barrier === TIMED_OUT) return { ok: false, reason: 'too-long' };
  if (!barrier) return { ok: false, reason: 'not-hearing' };

  const rooms = new Set(stored.rooms);
  const session = stored;
  const replay = await replayBroadcasts(bus, nsp, parsed.token, rooms, deadline, () =>
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
    missedPackets.push([...packet.data, bus.offsetFor(packet.token)]);
    pushPrivates(index + 1);
  });
  return {
    ok: true,
    session: { sid: stored.sid, pid: stored.pid, rooms: stored.rooms, data: fromStored(stored.data), missedPackets },
  };
}

async function takeSession(bus: Bus, nsp: string, pid: string): Promise<SessionDocument | undefined> {
  const doc = await bus.sessions.findOneAndDelete({ _id: sessionKey(nsp, pid) } as Document, {
    writeConcern: bus.options.writeConcern,
  });
  const session = doc as SessionDocument | null;
  if (!session || session.kind !== 'session') return undefined;
  return session;
}

type ReplayResult =
  | { ok: true; packets: Array<{ token: string; data: unknown[] }>; positions: Map<string, number> }
  | { ok: false; reason: 'history-lost' | 'too-long' | 'error' };

/**
 * Reads the stream after `token` and returns the broadcasts for these rooms that this node's live feed has
 * already dispatched, in order, plus for every event seen the number of packets kept before it (to place
 * private packets). Stops at the first event the live feed has not dispatched yet (or at the end of the
 * stream) and calls `onCut` right there, before anything else can run: from there on the restored socket
 * gets packets live (kept by the adapter until socket.io has attached it).
 */
async function replayBroadcasts(
  bus: Bus,
  nsp: string,
  token: string,
  rooms: Set<string>,
  deadline: number,
  onCut: () => void,
): Promise<ReplayResult> {
  const { restoreScanLimit } = bus.options;
  const stream = bus.collection.watch(
    [{ $match: { operationType: 'insert', 'fullDocument.kind': { $in: ['message', 'probe'] } } }],
    {
      resumeAfter: { _data: token },
      maxAwaitTimeMS: Math.min(200, bus.options.maxAwaitTimeMS),
    },
  );
  const packets: Array<{ token: string; data: unknown[] }> = [];
  const positions = new Map<string, number>();
  const seen = new Map<string, number>();
  let scanned = 0;
  try {
    for (;;) {
      if (Date.now() > deadline) return { ok: false, reason: 'too-long' };
      const dispatchedBefore = bus.counters.received + bus.counters.duplicates;
      const change = await beforeDeadline(
        stream.tryNext() as Promise<{ _id?: { _data?: unknown }; fullDocument?: unknown } | null>,
        deadline,
      );
      if (change === TIMED_OUT) return { ok: false, reason: 'too-long' };
      if (!change) {
        // Empty getMore: the replay holds everything written before it started, so if the live feed
        // dispatched nothing new meanwhile, the replay covers all of it.
        if (bus.counters.received + bus.counters.duplicates === dispatchedBefore) {
          onCut();
          break;
        }
        continue;
      }
      if (++scanned > restoreScanLimit) return { ok: false, reason: 'too-long' };
      const eventToken = change._id?._data;
      const doc = asMessageDocument(change.fullDocument);
      if (typeof eventToken !== 'string' || !doc) continue;
      const previous = seen.get(doc.origin);
      if (previous !== undefined && doc.seq <= previous) continue;
      seen.set(doc.origin, doc.seq);
      if (feedSees(doc, bus.uid) && !bus.dispatched(doc.origin, doc.seq)) {
        onCut();
        break;
      }
      const replayable = replayablePacket(doc, nsp);
      if (replayable && matchesRooms(replayable, rooms)) {
        packets.push({ token: eventToken, data: fromStored(replayable.data) as unknown[] });
      }
      positions.set(eventToken, packets.length);
    }
    return { ok: true, packets, positions };
  } catch (error) {
    if (isHistoryLost(error)) return { ok: false, reason: 'history-lost' };
    bus.options.logger.warn({ node: bus.uid, err: errorFacts(error).message }, 'mongo-adapter: session replay failed');
    return { ok: false, reason: 'error' };
  } finally {
    await closeWithin(stream, 1000);
  }
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
 * The broadcast a restore replays from this document, if any: an event packet of this namespace without
 * ack and not volatile (`recoverable`). Live delivery keeps for a restoring socket exactly the same ones.
 */
export function replayablePacket(doc: MessageDocument, nsp: string): ReplayablePacket | undefined {
  if (doc.kind !== 'message' || doc.type !== BROADCAST || !doc.recoverable || doc.nsp !== nsp) return undefined;
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
