import type { Collection, Document, WriteConcernSettings } from 'mongodb';
import { fromStored, toStorable } from './document.js';
import { parseOffset } from './positions.js';
import { beforeDeadline, replayMissed, sleep, TIMED_OUT, type ReplayPort } from './replay.js';

/**
 * Connection state recovery across nodes.
 *
 * Every node serves its own broadcasts to its own sockets at once, and gives each delivery a place in its
 * delivery order; offsets name such a place (see `positions.ts`), and a node's own documents carry theirs.
 *
 * Restore on any node: take the session document (findOneAndDelete: restorable once, checked against its
 * expiry), wait until this node's live feed has caught up with "now" (so it has applied everything the
 * client's node had delivered from the stream) and has applied every own broadcast of the client's node that
 * the client had (that node serves its sockets before its writes land), then replay what the client missed
 * (`replay.ts`) up to a cut. What this node delivers after the cut is kept by the adapter for the socket
 * (`RestoreHandoff`) and written to it when socket.io connects it. If the history is gone (286), or anything
 * cannot be done within `restoreTimeoutMs`, the restore fails cleanly: never a restore with holes.
 */

/** The narrow view of the node a restore needs. */
export interface RecoveryPort extends ReplayPort {
  /** Where sessions live. */
  readonly sessions: Collection<Document>;
  readonly writeConcern: WriteConcernSettings;
  readonly restoreTimeoutMs: number;
  /** Resolves true once the live feed has read everything committed before the call. */
  caughtUp(): Promise<boolean>;
  /** Messages may be missing on this node since this time. */
  gapSince(time: number): boolean;
  /** Whether the live feed applied every document of `origin` (channel '') numbered up to `seq`. */
  appliedThrough(origin: string, seq: number): boolean;
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

/** Sessions of earlier versions (v1 kept private packets aside) are not restored. */
export const SESSION_VERSION = 2;

export interface SessionDocument {
  _id: string;
  v: typeof SESSION_VERSION;
  kind: 'session';
  nsp: string;
  pid: string;
  sid: string;
  rooms: string[];
  data: unknown;
  /** Uid of the node that wrote it. */
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
  port: Pick<RecoveryPort, 'node' | 'sessions' | 'writeConcern'>,
  nsp: string,
  session: SessionToPersist,
  maxDisconnectionDuration: number,
): Promise<void> {
  const now = Date.now();
  const doc: SessionDocument = {
    _id: sessionKey(nsp, session.pid),
    v: SESSION_VERSION,
    kind: 'session',
    nsp,
    pid: session.pid,
    sid: session.sid,
    rooms: session.rooms,
    data: toStorable(session.data),
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
  | 'unwritten'
  | 'too-long'
  | 'not-hearing'
  | 'error';

export type RestoreOutcome = { ok: true; session: RestoredSession } | { ok: false; reason: RestoreFailure };

/**
 * Called synchronously at the replay's cut, with the restored socket's id and rooms: from this moment on,
 * packets this node delivers are not in the replay, and must reach the socket once it connects. Returns the
 * number of this node's latest own broadcast placed before the cut.
 */
export type ReplayCut = (sid: string, rooms: readonly string[]) => number;

export async function restoreSession(
  port: RecoveryPort,
  nsp: string,
  pid: string,
  offset: string,
  onCut: ReplayCut,
): Promise<RestoreOutcome> {
  const from = parseOffset(offset);
  if (!from) return { ok: false, reason: 'unknown-offset' };
  if (!from.clean) return { ok: false, reason: 'reordered-offset' };
  const deadline = Date.now() + port.restoreTimeoutMs;
  // The client's offset may name an event this node has not applied yet (it lags the node that served
  // the client). Live delivery would then hand the restored socket packets it already has: wait until this
  // node's feed has read everything written before now. Started at once, it runs during the lookup.
  const caughtUp = port.caughtUp();
  let stored = await takeSession(port, nsp, pid);
  if (!stored) {
    // The disconnect may have happened a moment ago on another node, its session write still in flight.
    await sleep(200);
    stored = await takeSession(port, nsp, pid);
  }
  if (!stored) return { ok: false, reason: 'unknown-session' };
  const now = Date.now();
  if (!(stored.expiresAt instanceof Date) || stored.expiresAt.getTime() < now) return { ok: false, reason: 'expired' };
  if (port.gapSince(stored.disconnectedAt.getTime())) return { ok: false, reason: 'gap' };

  const barrier = await beforeDeadline(caughtUp, deadline);
  if (barrier === TIMED_OUT) return { ok: false, reason: 'too-long' };
  if (!barrier) return { ok: false, reason: 'not-hearing' };
  // The client's node served it its own broadcasts before their writes landed. Those the client had must be
  // applied here before the cut: after it, live delivery would send them again.
  if (from.node !== port.node) {
    while (!port.appliedThrough(from.node, from.k)) {
      if (Date.now() > deadline) return { ok: false, reason: 'unwritten' };
      await sleep(5);
    }
  }

  const session = stored;
  const replay = await replayMissed(port, {
    nsp,
    from,
    rooms: new Set(session.rooms),
    deadline,
    cut: () => onCut(session.sid, session.rooms),
  });
  if (!replay.ok) return replay;
  return {
    ok: true,
    session: {
      sid: session.sid,
      pid: session.pid,
      rooms: session.rooms,
      data: fromStored(session.data),
      missedPackets: replay.packets,
    },
  };
}

async function takeSession(port: RecoveryPort, nsp: string, pid: string): Promise<SessionDocument | undefined> {
  const doc = await port.sessions.findOneAndDelete({ _id: sessionKey(nsp, pid) } as Document, {
    writeConcern: port.writeConcern,
  });
  const session = doc as SessionDocument | null;
  if (!session || session.kind !== 'session' || session.v !== SESSION_VERSION) return undefined;
  return session;
}
