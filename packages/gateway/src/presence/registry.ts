import type { Member } from '@switchyard/protocol';

/*
 * Who is in which room on this node, kept current by the rooms plugin on every join, leave and
 * disconnect (and by connection state recovery). It answers "first socket of this user here" and
 * "last socket gone" in O(1), so a join never scans the room: asking the adapter
 * (`fetchSockets`) builds one RemoteSocket per socket in the room, which made joining a room of
 * n members cost O(n) and filling it O(n²).
 */

interface Presence {
  member: Member;
  /** This user's sockets in the room, on this node. */
  sockets: number;
}

export class PresenceRegistry {
  /** room → user id → presence; a room is dropped with its last socket. */
  readonly #rooms = new Map<string, Map<string, Presence>>();

  /** Counts one more socket of `member` in `room`; returns the user's socket count there on this node. */
  enter(room: string, member: Member): number {
    let users = this.#rooms.get(room);
    if (users === undefined) this.#rooms.set(room, (users = new Map()));
    const presence = users.get(member.id);
    if (presence === undefined) {
      users.set(member.id, { member, sockets: 1 });
      return 1;
    }
    presence.sockets += 1;
    return presence.sockets;
  }

  /** Counts one socket of the user less in `room`; returns how many are left on this node (0: the last one left). */
  exit(room: string, userId: string): number {
    const users = this.#rooms.get(room);
    const presence = users?.get(userId);
    if (users === undefined || presence === undefined) return 0;
    presence.sockets -= 1;
    if (presence.sockets > 0) return presence.sockets;
    users.delete(userId);
    if (users.size === 0) this.#rooms.delete(room);
    return 0;
  }

  /** How many sockets of the user are in the room on this node. */
  socketsOf(room: string, userId: string): number {
    return this.#rooms.get(room)?.get(userId)?.sockets ?? 0;
  }

  /** Distinct users with a socket in the room on this node. */
  memberCount(room: string): number {
    return this.#rooms.get(room)?.size ?? 0;
  }

  /** Up to `limit` of the room's members on this node, in join order. */
  members(room: string, limit = Number.POSITIVE_INFINITY): Member[] {
    const members: Member[] = [];
    const users = this.#rooms.get(room);
    if (users === undefined) return members;
    for (const presence of users.values()) {
      if (members.length >= limit) break;
      members.push(presence.member);
    }
    return members;
  }

  /** Rooms with at least one socket on this node. */
  get roomCount(): number {
    return this.#rooms.size;
  }
}
