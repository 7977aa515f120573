import type { Logger } from 'pino';
import {
  LIMITS,
  type Member,
  type MembersPage,
  type PresenceMode,
  type PresenceShare,
  type PresenceSnapshot,
  type ServerToClientEvents,
} from '@switchyard/protocol';
import type { PresenceConfig } from '../config.js';
import type { RoomEvents } from '../rooms/room-events.js';
import { type ModeBounds, RoomPresence, type ShareOutcome } from './room-presence.js';

/*
 * Who is in which room, and when clients are told. Joins, leaves, disconnects and restored sessions
 * only change a room's state (O(1), no message); once per presence interval every changed room gets
 * at most one event for its clients on this node — `presence:diff` in members mode, `presence:count`
 * in large mode — and this node tells the others (cluster.ts) how its own share of each changed room
 * moved, in one message for all rooms. Every node emits to its own sockets and SSE streams only
 * (`localOnly`), from the same cluster-wide picture, so no presence event ever crosses the adapter
 * and a room's cost does not grow with the number of nodes times members.
 */

export interface PresenceOptions {
  config: PresenceConfig;
  roomEvents: RoomEvents;
  /** Whether other nodes may exist (a cluster adapter): then shares are kept for them. */
  clustered: boolean;
  log: Logger;
}

/** What the join ack says about presence. */
export interface PresenceView {
  mode: PresenceMode;
  count: number;
  /** Every member in members mode; none in large mode. */
  members: Member[];
}

/** The room's presence now, as one event: what a new SSE stream or a restored session starts from. */
export type PresenceState =
  | { event: 'presence:diff'; payload: Parameters<ServerToClientEvents['presence:diff']>[0] }
  | { event: 'presence:count'; payload: Parameters<ServerToClientEvents['presence:count']>[0] };

/** Where this node's shares go and where a room's missing shares come from: the cluster link. */
export interface PresenceLink {
  send(shares: PresenceShare[]): void;
  /** Asks every other node for its whole share of `room`; settles once their answers are in (or did not come in time). */
  resync(room: string): Promise<void>;
}

/** How long a join waits for the other nodes' shares of a room this node did not know. */
const FIRST_SYNC_WAIT_MS = 1000;

export class Presence {
  readonly #rooms = new Map<string, RoomPresence>();
  readonly #changed = new Set<RoomPresence>();
  /** Rooms new here whose first snapshots from the other nodes are on their way. */
  readonly #syncing = new Map<string, Promise<void>>();
  readonly #bounds: ModeBounds;
  readonly #intervalMs: number;
  readonly #roomEvents: RoomEvents;
  readonly #clustered: boolean;
  readonly #log: Logger;
  #link: PresenceLink | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** Numbers this node's shares (all rooms): receivers chain them by `prev`. */
  #shareSeq = 0;
  /** Presence intervals run so far: large rooms' counts are paced in intervals. */
  #tick = 0;
  #closed = false;

  constructor({ config, roomEvents, clustered, log }: PresenceOptions) {
    this.#bounds = {
      largeAbove: config.largeRoomThreshold,
      membersAtOrBelow: Math.floor(config.largeRoomThreshold * 0.9),
    };
    this.#intervalMs = config.intervalMs;
    this.#roomEvents = roomEvents;
    this.#clustered = clustered;
    this.#log = log;
  }

  /** Connects the cluster link (cluster.ts); until then nothing is shared. */
  link(link: PresenceLink): void {
    this.#link = link;
  }

  /** Rooms this node knows (local members or SSE streams). */
  get roomCount(): number {
    return this.#rooms.size;
  }

  /** Rooms in large mode on this node. */
  get largeRoomCount(): number {
    let large = 0;
    for (const room of this.#rooms.values()) if (room.mode === 'large') large += 1;
    return large;
  }

  /** One more socket of `user` in `room` on this node. Synchronous, so a disconnect meanwhile finds it counted. */
  arrive(room: string, user: Member): void {
    this.#changedRoom(this.#room(room)).enter(user);
  }

  /** One socket of `user` less in `room` on this node. */
  depart(room: string, user: Member): void {
    const state = this.#rooms.get(room);
    if (state === undefined) return;
    state.exit(user.id);
    this.#changedRoom(state);
  }

  /**
   * While the room is new here: a promise that resolves once it holds what the other nodes had when
   * this node started caring about it (at most FIRST_SYNC_WAIT_MS), so the first join on a node
   * answers with the whole room. Undefined when there is nothing to wait for.
   */
  settling(room: string): Promise<void> | undefined {
    return this.#syncing.get(room);
  }

  /** How many of the user's sockets are in the room on this node. */
  socketsOf(room: string, userId: string): number {
    return this.#rooms.get(room)?.socketsOf(userId) ?? 0;
  }

  /** The room as a joiner sees it now (never more than the threshold's worth of members). */
  view(room: string): PresenceView {
    const state = this.#rooms.get(room);
    if (state === undefined) return { mode: 'members', count: 0, members: [] };
    state.observed();
    return {
      mode: state.mode,
      count: state.count,
      members: state.mode === 'members' ? [...state.members()] : [],
    };
  }

  isLarge(room: string): boolean {
    return this.#rooms.get(room)?.mode === 'large';
  }

  /** A page of `members:list`: ordered by id, after `cursor`. */
  page(room: string, cursor: string | undefined, limit: number = LIMITS.membersPage.default): MembersPage {
    const state = this.#rooms.get(room);
    if (state === undefined) return { room, mode: 'members', count: 0, members: [] };
    const { members, more } = state.page(cursor, limit);
    const last = members.at(-1);
    return {
      room,
      mode: state.mode,
      count: state.count,
      members,
      ...(more && last !== undefined ? { nextCursor: last.id } : {}),
    };
  }

  /** The room's presence as one event: a full diff in members mode, the count in large mode. */
  state(room: string): PresenceState {
    const state = this.#rooms.get(room);
    if (state === undefined)
      return { event: 'presence:diff', payload: { room, joined: [], left: [], count: 0, full: true } };
    state.observed();
    return state.mode === 'large'
      ? { event: 'presence:count', payload: { room, count: state.count } }
      : { event: 'presence:diff', payload: state.fullDiff() };
  }

  /** An SSE stream of the room opened here: the room is worth knowing (cluster-wide) while it lasts. Returns the release. */
  watch(room: string): () => void {
    const state = this.#room(room);
    state.watchers += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      state.watchers -= 1;
      this.#changedRoom(state);
    };
  }

  // ---- the cluster link's side ----

  /** Another node's share of some rooms; the rooms this node does not know are none of its business. */
  applyShare(uid: string, share: PresenceShare): ShareOutcome | 'unknown' {
    const state = this.#rooms.get(share.room);
    if (state === undefined) return 'unknown';
    const outcome = state.applyShare(uid, share);
    if (outcome === 'applied') this.#changedRoom(state);
    return outcome;
  }

  /** Another node's whole share of a room (its answer to a resync). */
  applySnapshot(room: string, snapshot: PresenceSnapshot): void {
    const state = this.#rooms.get(room);
    if (state === undefined) return;
    state.replaceShare(snapshot.uid, snapshot.seq, snapshot.members);
    this.#changedRoom(state);
  }

  /** This node's whole share of a room, for another node's resync. */
  snapshot(room: string, uid: string): PresenceSnapshot {
    const state = this.#rooms.get(room);
    return { uid, seq: state?.lastShareSeq ?? 0, members: state?.localMembers() ?? [] };
  }

  /** A node left the cluster: every room forgets its share (members held only there are gone). */
  dropNode(uid: string): void {
    for (const state of this.#rooms.values()) if (state.dropNode(uid)) this.#changedRoom(state);
  }

  /** Stops the interval; what is pending is dropped (the node is going away, its clients with it). */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Runs the interval's work now (what the timer does). */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const shares: PresenceShare[] = [];
    const rooms = [...this.#changed];
    this.#changed.clear();
    const tick = ++this.#tick;
    for (const state of rooms) {
      const { event, share, pending } = state.flush(tick);
      if (event !== undefined) this.#emit(event);
      // A large room's count not due yet: the room comes up again next interval (unless nobody here cares).
      if (pending === true && !state.idle) this.#changedRoom(state);
      if (share !== undefined && this.#link !== undefined) {
        const seq = ++this.#shareSeq;
        shares.push({ ...share, seq });
        state.shared(seq);
      }
      // A room nobody here is in or watches is forgotten; the next arrival asks the other nodes again.
      if (state.idle && this.#rooms.get(state.name) === state) this.#rooms.delete(state.name);
    }
    if (shares.length > 0) this.#link?.send(shares);
  }

  #emit(event: NonNullable<ReturnType<RoomPresence['flush']>['event']>): void {
    if (event.name === 'presence:diff') this.#roomEvents.emit(event.payload.room, event.name, event.payload, LOCAL);
    else this.#roomEvents.emit(event.payload.room, event.name, event.payload, LOCAL);
  }

  #room(room: string): RoomPresence {
    let state = this.#rooms.get(room);
    if (state === undefined) {
      state = new RoomPresence(room, this.#bounds, this.#clustered);
      this.#rooms.set(room, state);
      // New here: what the other nodes hold comes from their snapshots, then from their shares.
      if (this.#link !== undefined) this.#firstSync(room, this.#link.resync(room));
    }
    return state;
  }

  #firstSync(room: string, synced: Promise<void>): void {
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, FIRST_SYNC_WAIT_MS);
      timer.unref();
    });
    const settled = Promise.race([synced, waited]).finally(() => {
      clearTimeout(timer);
      if (this.#syncing.get(room) === settled) this.#syncing.delete(room);
    });
    this.#syncing.set(room, settled);
  }

  #changedRoom(state: RoomPresence): RoomPresence {
    this.#changed.add(state);
    if (this.#timer === undefined && !this.#closed) {
      this.#timer = setTimeout(() => this.#flushSafely(), this.#intervalMs);
      this.#timer.unref();
    }
    return state;
  }

  #flushSafely(): void {
    try {
      this.flush();
    } catch (err) {
      this.#log.error({ err }, 'presence flush failed');
    }
  }
}

/** Every node tells its own clients, from the same cluster-wide picture. */
const LOCAL = { localOnly: true } as const;
