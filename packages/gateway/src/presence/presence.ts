import type { Logger } from 'pino';
import type { Member } from '@switchyard/protocol';
import type { RoomEvents } from '../rooms/room-events.js';
import type { GatewayServer } from '../types.js';
import { type ClusterPresence, clusterPresence, presentElsewhere } from './cluster.js';
import type { PresenceRegistry } from './registry.js';

/*
 * Who is in a room, and when the others are told: `presence:join` when a user's first socket
 * arrives anywhere in the cluster, `presence:leave` when their last one is gone everywhere. Every
 * presence announcement of the gateway goes out from here (joins, leaves, recovered sessions,
 * members lost with an evicted node), through `RoomEvents`, so SSE streams see them too.
 */

export interface PresenceOptions {
  io: GatewayServer;
  registry: PresenceRegistry;
  roomEvents: RoomEvents;
  log: Logger;
}

export class Presence {
  readonly registry: PresenceRegistry;
  readonly #io: GatewayServer;
  readonly #roomEvents: RoomEvents;
  readonly #log: Logger;

  constructor({ io, registry, roomEvents, log }: PresenceOptions) {
    this.#io = io;
    this.registry = registry;
    this.#roomEvents = roomEvents;
    this.#log = log;
  }

  /**
   * Counts one more socket of `user` in `room` on this node, synchronously (so a socket that
   * disconnects meanwhile is uncounted by its disconnect). True when it is the user's first socket here.
   */
  arrive(room: string, user: Member): boolean {
    return this.registry.enter(room, user) === 1;
  }

  /** The room's members cluster-wide, at most `limit` of them, this node's first. */
  members(room: string, limit?: number): Promise<ClusterPresence> {
    return clusterPresence(this.#io, this.registry, room, limit);
  }

  /** Tells the room a user arrived (the joining socket itself is left out). */
  announceJoin(room: string, member: Member, exceptSocket: string): void {
    this.#roomEvents.emit(room, 'presence:join', { room, member }, { exceptSocket });
  }

  /**
   * Uncounts one socket of `user` in `room` (synchronously) and announces `presence:leave` when it
   * was the user's last socket in the room, on this node and (asked only when there are other
   * nodes) on every other. Never rejects: a failed check is logged.
   */
  async depart(room: string, user: Member): Promise<void> {
    if (this.registry.exit(room, user.id) > 0) return;
    try {
      if (await presentElsewhere(this.#io, room, user.id)) return;
      // The user may have come back on this node while other nodes were asked.
      if (this.registry.socketsOf(room, user.id) > 0) return;
      this.#roomEvents.emit(room, 'presence:leave', { room, member: user });
    } catch (err) {
      this.#log.warn({ err, room, userId: user.id }, 'presence update failed');
    }
  }

  /**
   * A session restored by connection state recovery is back in its rooms without a `room:join`:
   * count it (its disconnect uncounts it like any other socket's), and since the node it left may
   * have said `presence:leave` for it meanwhile, announce it again where it is the user's only socket.
   */
  recovered(socketId: string, user: Member, rooms: readonly string[], connected: () => boolean): void {
    for (const room of rooms) {
      if (!this.arrive(room, user)) continue;
      presentElsewhere(this.#io, room, user.id).then(
        (elsewhere) => {
          if (!elsewhere && connected()) this.announceJoin(room, user, socketId);
        },
        (err: unknown) => this.#log.warn({ err, room, socketId }, 'presence after recovery failed'),
      );
    }
  }

  /** Members that vanished with a node that died: this node's sockets are told, every surviving node tells its own. */
  announceLost(room: string, member: Member): void {
    this.#roomEvents.emit(room, 'presence:leave', { room, member }, { localOnly: true });
  }
}
