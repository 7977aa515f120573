import type { Member, PresenceDiff, PresenceMode, PresenceShare } from '@switchyard/protocol';

/*
 * One room's presence as this node knows it: its own sockets (by user), the shares other nodes told
 * it about (by node), and what changed since the room's last presence event. Everything here is
 * synchronous and O(1) per change; a join, leave or share only marks the room, and `flush` (once per
 * presence interval) turns what changed into at most one event for the room's clients and one share
 * for the other nodes.
 *
 * A user is a member while they have a socket in the room on any node; one with sockets on two nodes
 * is one member. `count` is exact: users held here plus users held only elsewhere.
 */

interface LocalMember {
  member: Member;
  /** This user's sockets in the room on this node. */
  sockets: number;
}

interface RemoteMember {
  member: Member;
  /** How many other nodes hold this user in the room. */
  nodes: number;
}

/** What another node said it holds, as of its share numbered `seq`. */
interface NodeShare {
  seq: number;
  members: Map<string, Member>;
}

/** What a flush hands on: the event for the room's clients and the share for the other nodes. */
export interface Flushed {
  event?:
    | { name: 'presence:diff'; payload: PresenceDiff }
    | { name: 'presence:count'; payload: { room: string; count: number } };
  share?: Omit<PresenceShare, 'seq'>;
  /** A large room's new count that is not due yet (see `countEvery`): flush the room again later. */
  pending?: true;
}

/** A large room's count goes out at most every this many intervals however big the room is. */
export const MAX_COUNT_INTERVALS = 20;

export type ShareOutcome = 'applied' | 'stale' | 'gap';

export interface ModeBounds {
  /** More members than this: large. */
  largeAbove: number;
  /** Large, and at most this many: back to members mode. */
  membersAtOrBelow: number;
}

export class RoomPresence {
  readonly name: string;
  readonly #bounds: ModeBounds;
  /** Whether other nodes exist to share with (what changed here is then kept for the next share). */
  readonly #clustered: boolean;
  readonly #local = new Map<string, LocalMember>();
  readonly #shares = new Map<string, NodeShare>();
  readonly #remote = new Map<string, RemoteMember>();
  /** Users both held here and elsewhere. */
  #overlap = 0;
  #mode: PresenceMode = 'members';
  /** SSE streams of the room on this node: they make the room worth knowing without being members. */
  watchers = 0;

  // Since the last flush, for the room's clients (members mode): each touched user, and whether they were a member then.
  readonly #touched = new Map<string, { was: boolean; member: Member }>();
  /** Someone took the room's state since the last flush (a join ack, a stream's first event): it may show a passing change. */
  #observed = false;
  #switchedToLarge = false;
  #announcedCount = 0;
  /** The presence interval (tick) in which the last count went out. */
  #countTick = 0;

  // Since the last share, for the other nodes: this node's own share's moves.
  readonly #shareJoined = new Map<string, Member>();
  readonly #shareLeft = new Set<string>();
  #lastShareSeq = 0;

  constructor(name: string, bounds: ModeBounds, clustered: boolean) {
    this.name = name;
    this.#bounds = bounds;
    this.#clustered = clustered;
  }

  get mode(): PresenceMode {
    return this.#mode;
  }

  /** Distinct members cluster-wide. */
  get count(): number {
    return this.#local.size + this.#remote.size - this.#overlap;
  }

  /** Distinct members with a socket on this node. */
  get localCount(): number {
    return this.#local.size;
  }

  /** The seq of this node's last share of the room (0: none since the room was fresh here). */
  get lastShareSeq(): number {
    return this.#lastShareSeq;
  }

  /** Nothing here makes the room worth keeping: no local member, no watcher. */
  get idle(): boolean {
    return this.#local.size === 0 && this.watchers === 0;
  }

  has(userId: string): boolean {
    return this.#local.has(userId) || this.#remote.has(userId);
  }

  socketsOf(userId: string): number {
    return this.#local.get(userId)?.sockets ?? 0;
  }

  /** One more socket of `member` here; returns the user's sockets here. */
  enter(member: Member): number {
    const local = this.#local.get(member.id);
    if (local !== undefined) return ++local.sockets;
    this.#touch(member);
    this.#local.set(member.id, { member, sockets: 1 });
    if (this.#remote.has(member.id)) this.#overlap += 1;
    if (this.#clustered) {
      this.#shareLeft.delete(member.id);
      this.#shareJoined.set(member.id, member);
    }
    this.#growing();
    return 1;
  }

  /** One socket of the user less here; returns how many are left here (0: the last one left, or none was here). */
  exit(userId: string): number {
    const local = this.#local.get(userId);
    if (local === undefined) return 0;
    if (--local.sockets > 0) return local.sockets;
    this.#touch(local.member);
    this.#local.delete(userId);
    if (this.#remote.has(userId)) this.#overlap -= 1;
    if (this.#clustered) {
      this.#shareJoined.delete(userId);
      this.#shareLeft.add(userId);
    }
    return 0;
  }

  /**
   * Someone is about to be shown the room as it is now, between two flushes: the next diff then
   * states the final place of everyone who moved meanwhile, even of one who came and went, since
   * this state may have shown them.
   */
  observed(): void {
    this.#observed = true;
  }

  /** Members in no particular order: this node's first, then those only elsewhere. */
  *members(): IterableIterator<Member> {
    for (const { member } of this.#local.values()) yield member;
    for (const [id, { member }] of this.#remote) if (!this.#local.has(id)) yield member;
  }

  /** This node's own share: its members of the room. */
  localMembers(): Member[] {
    return [...this.#local.values()].map(({ member }) => member);
  }

  /** Up to `limit` members with ids after `cursor`, ordered by id (UTF-16 code units), and whether more follow. */
  page(cursor: string | undefined, limit: number): { members: Member[]; more: boolean } {
    const after: Member[] = [];
    for (const member of this.members()) if (cursor === undefined || member.id > cursor) after.push(member);
    after.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return { members: after.slice(0, limit), more: after.length > limit };
  }

  /** Applies another node's share if it follows the last one seen from that node (`prev`), or starts afresh (`prev` 0). */
  applyShare(uid: string, share: PresenceShare): ShareOutcome {
    let known = this.#shares.get(uid);
    if (known !== undefined && share.seq <= known.seq) return 'stale';
    if (share.prev === 0) {
      this.#dropShare(uid);
      known = undefined;
    } else if (known === undefined || known.seq !== share.prev) {
      return 'gap';
    }
    if (known === undefined) this.#shares.set(uid, (known = { seq: 0, members: new Map() }));
    for (const userId of share.left) this.#removeRemote(known, userId);
    for (const member of share.joined) this.#addRemote(known, member);
    known.seq = share.seq;
    this.#growing();
    return 'applied';
  }

  /** Another node's whole share as of its share `seq`; ignored when a later share of it was applied already. */
  replaceShare(uid: string, seq: number, members: readonly Member[]): void {
    const known = this.#shares.get(uid);
    if (known !== undefined && known.seq > seq) return;
    this.#dropShare(uid);
    const fresh: NodeShare = { seq, members: new Map() };
    this.#shares.set(uid, fresh);
    for (const member of members) this.#addRemote(fresh, member);
    this.#growing();
  }

  /** A node that left the cluster: its members are gone (unless held elsewhere too). */
  dropNode(uid: string): boolean {
    return this.#dropShare(uid);
  }

  /** Whether anything awaits the next flush. */
  get changed(): boolean {
    return (
      this.#touched.size > 0 ||
      this.#switchedToLarge ||
      this.#shareJoined.size > 0 ||
      this.#shareLeft.size > 0 ||
      (this.#mode === 'large' && this.count !== this.#announcedCount)
    );
  }

  /**
   * How many intervals apart a large room's counts go out: a count costs one write per member, so a
   * room told `k` times less often for `k` times the threshold's members costs about what a full
   * members-mode room does, whatever its size (capped at MAX_COUNT_INTERVALS).
   */
  countEvery(count: number): number {
    return Math.min(MAX_COUNT_INTERVALS, Math.max(1, Math.ceil(count / this.#bounds.largeAbove)));
  }

  /** Turns what changed since the last flush (in interval `tick`) into the room's event and this node's share. */
  flush(tick = 0): Flushed {
    const flushed: Flushed = {};
    const count = this.count;
    let announced = true;
    if (this.#mode === 'large') {
      if (count <= this.#bounds.membersAtOrBelow) {
        this.#mode = 'members';
        flushed.event = { name: 'presence:diff', payload: this.fullDiff() };
      } else if (
        this.#switchedToLarge ||
        (count !== this.#announcedCount && tick - this.#countTick >= this.countEvery(count))
      ) {
        flushed.event = { name: 'presence:count', payload: { room: this.name, count } };
        this.#countTick = tick;
      } else if (count !== this.#announcedCount) {
        flushed.pending = true;
        announced = false;
      }
    } else if (this.#touched.size > 0) {
      const diff = this.#diff(count);
      if (diff.joined.length > 0 || diff.left.length > 0) flushed.event = { name: 'presence:diff', payload: diff };
    }
    this.#touched.clear();
    this.#observed = false;
    this.#switchedToLarge = false;
    if (announced) this.#announcedCount = count;
    if (this.#shareJoined.size > 0 || this.#shareLeft.size > 0) {
      flushed.share = {
        room: this.name,
        prev: this.#lastShareSeq,
        joined: [...this.#shareJoined.values()],
        left: [...this.#shareLeft],
      };
      this.#shareJoined.clear();
      this.#shareLeft.clear();
    }
    return flushed;
  }

  /** Records the seq the share of the last flush went out with. */
  shared(seq: number): void {
    this.#lastShareSeq = seq;
  }

  /** The whole list as a members-mode event that replaces what a client holds. */
  fullDiff(): PresenceDiff {
    return { room: this.name, joined: [...this.members()], left: [], count: this.count, full: true };
  }

  #diff(count: number): PresenceDiff {
    const joined: Member[] = [];
    const left: Member[] = [];
    for (const [userId, { was, member }] of this.#touched) {
      const now = this.#memberOf(userId);
      if (now === undefined && (was || this.#observed)) left.push(member);
      else if (now !== undefined && (!was || this.#observed)) joined.push(now);
    }
    return { room: this.name, joined, left, count };
  }

  /** Remembers, before the first change of a user since the last flush, whether they were a member (members mode only). */
  #touch(member: Member): void {
    if (this.#mode !== 'members' || this.#touched.has(member.id)) return;
    this.#touched.set(member.id, { was: this.has(member.id), member: this.#memberOf(member.id) ?? member });
  }

  #memberOf(userId: string): Member | undefined {
    return this.#local.get(userId)?.member ?? this.#remote.get(userId)?.member;
  }

  /** A room that grew past the threshold switches at once, so no join ack lists more than the threshold. */
  #growing(): void {
    if (this.#mode === 'members' && this.count > this.#bounds.largeAbove) {
      this.#mode = 'large';
      this.#switchedToLarge = true;
      this.#touched.clear();
    }
  }

  #addRemote(share: NodeShare, member: Member): void {
    if (share.members.has(member.id)) return;
    this.#touch(member);
    share.members.set(member.id, member);
    const remote = this.#remote.get(member.id);
    if (remote !== undefined) {
      remote.nodes += 1;
      return;
    }
    this.#remote.set(member.id, { member, nodes: 1 });
    if (this.#local.has(member.id)) this.#overlap += 1;
  }

  #removeRemote(share: NodeShare, userId: string): void {
    if (!share.members.delete(userId)) return;
    const remote = this.#remote.get(userId);
    if (remote === undefined) return;
    this.#touch(remote.member);
    if (--remote.nodes > 0) return;
    this.#remote.delete(userId);
    if (this.#local.has(userId)) this.#overlap -= 1;
  }

  #dropShare(uid: string): boolean {
    const share = this.#shares.get(uid);
    if (share === undefined) return false;
    for (const userId of [...share.members.keys()]) this.#removeRemote(share, userId);
    this.#shares.delete(uid);
    return true;
  }
}
