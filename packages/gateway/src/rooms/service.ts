import type { Logger } from 'pino';
import {
  type HistoryPage,
  type JoinRoomResult,
  LIMITS,
  type Member,
  type MembersPage,
  SwitchyardError,
} from '@switchyard/protocol';
import type { Presence, PresenceState } from '../presence/presence.js';
import type { AppendResult, MessageStore } from '../store/message-store.js';
import type { GatewaySocket } from '../types.js';
import type { RoomAccess } from './access.js';
import { chatRoomsOf, roomChannel } from './channel.js';
import type { RoomEvents } from './room-events.js';

/*
 * The room service: every use case of a chat room, once, with its rules — who may read a room, who
 * may post in it and as whom, how many rooms a socket may hold, who counts as present. The
 * transports (the Socket.IO plugin, the HTTP publish API, SSE) translate their requests into these
 * calls and the typed errors (`SwitchyardError`) back into their own answers.
 *
 * Shared by every socket: nothing here is allocated per socket or per room.
 */

/** Who posts a message; the rule that applies follows from it. */
export type Poster =
  /** A member connected by socket: must have joined the room. */
  | { kind: 'socket'; socket: GatewaySocket }
  /** A user with the publish scope (HTTP): only into rooms they may read. */
  | { kind: 'user'; user: Member }
  /** A backend service (an API key): into any room, as any author. */
  | { kind: 'service'; defaultAuthor: Member };

export interface PostInput {
  room: string;
  text: string;
  /** Who the message is shown as: the poster by default; members and users can only post as themselves. */
  author?: Member;
  /** Makes retries idempotent: the same (author, clientMessageId) is stored and broadcast once. */
  clientMessageId?: string;
}

export interface HistoryQuery {
  before?: string;
  limit?: number;
}

export interface MembersQuery {
  cursor?: string;
  limit?: number;
}

export interface RoomServiceOptions {
  store: MessageStore;
  roomEvents: RoomEvents;
  presence: Presence;
  access: RoomAccess;
  maxRoomsPerSocket: number;
  log: Logger;
}

export class RoomService {
  readonly #store: MessageStore;
  readonly #roomEvents: RoomEvents;
  readonly #presence: Presence;
  readonly #access: RoomAccess;
  readonly #maxRoomsPerSocket: number;
  readonly #log: Logger;

  constructor(options: RoomServiceOptions) {
    this.#store = options.store;
    this.#roomEvents = options.roomEvents;
    this.#presence = options.presence;
    this.#access = options.access;
    this.#maxRoomsPerSocket = options.maxRoomsPerSocket;
    this.#log = options.log;
  }

  /** Throws FORBIDDEN unless `user` (undefined: a caller without identity) may read `room`. */
  assertAccess(user: Member | undefined, room: string): void {
    if (!this.#access(user, room)) throw new SwitchyardError('FORBIDDEN', 'This room is private to another user');
  }

  /**
   * Joins (or joins again, harmlessly): the room's presence (every member, or in a large room the
   * count) and the latest messages. The arrival itself costs the room nothing now: it is folded into
   * the room's next presence event.
   */
  async join(socket: GatewaySocket, room: string): Promise<JoinRoomResult> {
    const user = socket.data.user;
    const channel = roomChannel(room);
    const rejoin = socket.rooms.has(channel);
    this.assertAccess(user, room);
    if (!rejoin && chatRoomsOf(socket.rooms).length >= this.#maxRoomsPerSocket)
      throw new SwitchyardError('TOO_MANY_ROOMS');
    // Joined and counted before any await, so a socket that disconnects meanwhile is never left
    // in a room, and its disconnect (which sees the room) uncounts it. A presence event the socket
    // gets before its ack may be older than the ack; the next one restates whatever moved since.
    if (!rejoin) {
      const joined = socket.join(channel);
      this.#presence.arrive(room, user);
      // Awaited only when there is something to wait for: a join is the hot path of filling a room.
      if (joined !== undefined) await joined;
    }
    // The first join of a room on this node waits (briefly) for what the other nodes hold.
    const settling = this.#presence.settling(room);
    if (settling !== undefined) await settling;
    const messages = await this.#store.latest(room, LIMITS.historyPage.default);
    const view = this.#presence.view(room);
    return { room, mode: view.mode, members: view.members, memberCount: view.count, messages };
  }

  async leave(socket: GatewaySocket, room: string): Promise<{ room: string }> {
    this.#assertJoined(socket, room);
    const left = socket.leave(roomChannel(room));
    this.#presence.depart(room, socket.data.user);
    await left;
    return { room };
  }

  /** A socket that went away left these rooms (taken while it still had them). */
  disconnected(user: Member, rooms: readonly string[]): void {
    for (const room of rooms) this.#presence.depart(room, user);
  }

  /** A page of the room's members, ordered by id: the member list of a large room, read on demand. */
  members(socket: GatewaySocket, room: string, { cursor, limit }: MembersQuery = {}): MembersPage {
    this.#assertJoined(socket, room);
    return this.#presence.page(room, cursor, limit ?? LIMITS.membersPage.default);
  }

  /** A listener of the room (an SSE stream) on this node: the room's presence is kept while it lasts. Returns the release. */
  watch(room: string): () => void {
    return this.#presence.watch(room);
  }

  /** The room's presence now, as the one event a new listener starts from. */
  presenceState(room: string): PresenceState {
    return this.#presence.state(room);
  }

  /** Stores a message and broadcasts it as `message:new` to the room's sockets and SSE streams on every node. */
  async post(poster: Poster, { room, text, author, clientMessageId }: PostInput): Promise<AppendResult> {
    const shownAs = this.#authorFor(poster, room, author);
    const result = await this.#store.append({ room, text, author: shownAs, clientMessageId });
    if (this.#log.isLevelEnabled('debug'))
      this.#log.debug(
        { room, messageId: result.message.id, created: result.created, by: poster.kind },
        'message stored',
      );
    // A retry is answered with the stored message but not broadcast again.
    if (result.created) this.#roomEvents.emit(room, 'message:new', result.message);
    return result;
  }

  /** A volatile hint to the room's other members; off in a large room, where nobody could read thousands of them. */
  typing(socket: GatewaySocket, room: string): void {
    this.#assertJoined(socket, room);
    if (this.#presence.isLarge(room)) return;
    this.#roomEvents.emit(room, 'typing', { room, member: socket.data.user }, { exceptSocket: socket.id });
  }

  async history(socket: GatewaySocket, room: string, { before, limit }: HistoryQuery = {}): Promise<HistoryPage> {
    this.#assertJoined(socket, room);
    const page = await this.#store.before(room, before, limit ?? LIMITS.historyPage.default);
    return { room, messages: page.messages, hasMore: page.hasMore };
  }

  /** Who may post where, and as whom. */
  #authorFor(poster: Poster, room: string, author: Member | undefined): Member {
    switch (poster.kind) {
      case 'service':
        return author ?? poster.defaultAuthor;
      case 'socket':
        this.#assertJoined(poster.socket, room);
        return this.#asThemself(poster.socket.data.user, author);
      case 'user':
        this.assertAccess(poster.user, room);
        return this.#asThemself(poster.user, author);
    }
  }

  #asThemself(user: Member, author: Member | undefined): Member {
    if (author !== undefined && author.id !== user.id)
      throw new SwitchyardError('FORBIDDEN', 'A user can only publish as themself');
    return author ?? user;
  }

  #assertJoined(socket: GatewaySocket, room: string): void {
    if (!socket.rooms.has(roomChannel(room))) throw new SwitchyardError('NOT_IN_ROOM');
  }
}
