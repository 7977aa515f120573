import type {
  ChatMessage,
  HistoryPage,
  Member,
  MembersPage,
  PresenceCount,
  PresenceDiff,
  PresenceEvent,
  PresenceMode,
  TypingEvent,
} from '@switchyard/protocol';
import { SwitchyardClientError, isClientError } from './errors.js';
import { collectMissed } from './internal/catch-up.js';
import { randomId } from './internal/ids.js';
import { Listeners } from './internal/listeners.js';
import type { Requester } from './internal/requests.js';
import { SeenIds } from './internal/seen-ids.js';

/** Someone entered or left the room (also synthesized from the member list after a reconnect). */
export interface PresenceChange extends PresenceEvent {
  type: 'join' | 'leave';
}

/** The room's size, and whether it is listed (`members`) or only counted (`large`). */
export interface RoomCount {
  count: number;
  mode: PresenceMode;
}

export interface RoomEvents {
  /** Every message of the room once, in order: live ones, your own (from the send ack), and those missed while reconnecting. */
  message: (message: ChatMessage) => void;
  /** Someone arrived or left (members mode only: a large room reports its count). */
  presence: (change: PresenceChange) => void;
  /** The member count or the mode changed. When the mode changed, read `members` again. */
  count: (count: RoomCount) => void;
  /** Someone else is typing. The gateway sends these volatile: they may be dropped, never retried. */
  typing: (event: TypingEvent) => void;
}

export interface MembersOptions {
  /** The `nextCursor` of the previous page. */
  cursor?: string;
  /** Page size, 1-500; the gateway's default (100) when omitted. */
  limit?: number;
}

export interface HistoryOptions {
  /** A message id: the page holds messages older than it. Omit for the latest page. */
  before?: string;
  /** Page size, 1-100; the gateway's default when omitted. */
  limit?: number;
}

/** What a room needs from its client. */
export interface RoomLink {
  /** A request that waits for the connection and retries on TIMEOUT / DISCONNECTED up to `attempts`. */
  request: Requester;
  emitTyping(room: string): void;
  forget(room: Room): void;
  /** Our own user id, when known: a leave of our own user in a room we are in is stale. */
  selfId(): string | undefined;
  readonly typingIntervalMs: number;
  readonly catchUpPages: number;
}

type Phase = 'joining' | 'joined' | 'syncing' | 'left';

/** Events that arrived while the room was joining or catching up; applied once it is in sync. */
type Pending =
  | { kind: 'message'; message: ChatMessage }
  | { kind: 'diff'; diff: PresenceDiff }
  | { kind: 'count'; count: PresenceCount };

const MAX_PENDING = 1000;
const CATCH_UP_PAGE = 100;

/** A joined room. Get one from `client.join(name)`. */
export class Room {
  readonly name: string;
  readonly #link: RoomLink;
  readonly #listeners = new Listeners<RoomEvents>();
  #members = new Map<string, Member>();
  #mode: PresenceMode = 'members';
  #count = 0;
  readonly #seen = new SeenIds();
  #initialMessages: readonly ChatMessage[] = [];
  #pending: Pending[] = [];
  #phase: Phase = 'joining';
  #lastSeenId: string | undefined;
  #lastTypingAt = Number.NEGATIVE_INFINITY;

  /** @internal Created by the client. */
  constructor(name: string, link: RoomLink) {
    this.name = name;
    this.#link = link;
  }

  /** The latest messages when the room was joined, oldest first. Later ones go to `message` listeners. */
  get initialMessages(): readonly ChatMessage[] {
    return this.#initialMessages;
  }

  /** Who is in the room now. Empty in a large room (`mode: 'large'`): page through `listMembers()` instead. */
  get members(): readonly Member[] {
    return [...this.#members.values()];
  }

  /** How many distinct members the room has now, in either mode. */
  get count(): number {
    return this.#count;
  }

  /** `members`: the room lists its members (`members`, `presence` events); `large`: it only counts them. */
  get mode(): PresenceMode {
    return this.#mode;
  }

  /** A page of the room's members, ordered by id, in either mode; pass `nextCursor` back for the next one. */
  async listMembers(options: MembersOptions = {}): Promise<MembersPage> {
    this.#assertJoined('members:list');
    const payload: { room: string; cursor?: string; limit?: number } = { room: this.name };
    if (options.cursor !== undefined) payload.cursor = options.cursor;
    if (options.limit !== undefined) payload.limit = options.limit;
    return this.#link.request('members:list', payload);
  }

  /** False once `leave()` was called (or the gateway refused to take us back after a reconnect). */
  get joined(): boolean {
    return this.#phase !== 'left';
  }

  on<E extends keyof RoomEvents>(event: E, listener: RoomEvents[E]): () => void {
    return this.#listeners.add(event, listener);
  }

  /**
   * Sends a message and resolves with it as stored. On a timeout or a lost connection it retries
   * with the same `clientMessageId`, which the gateway stores once, so a retry never duplicates.
   */
  async send(text: string): Promise<ChatMessage> {
    this.#assertJoined('message:send');
    const { message } = await this.#link.request('message:send', {
      room: this.name,
      text,
      clientMessageId: randomId(),
    });
    if (this.#phase === 'joined') this.#deliver(message);
    return message;
  }

  /** Tells the others you are typing. Throttled: calling it on every keystroke is fine. */
  typing(): void {
    if (this.#phase !== 'joined') return;
    const now = Date.now();
    if (now - this.#lastTypingAt < this.#link.typingIntervalMs) return;
    this.#lastTypingAt = now;
    this.#link.emitTyping(this.name);
  }

  /** A page of older messages, oldest first. Not delivered to `message` listeners. */
  async history(options: HistoryOptions = {}): Promise<HistoryPage> {
    this.#assertJoined('history:fetch');
    const payload: { room: string; before?: string; limit?: number } = { room: this.name };
    if (options.before !== undefined) payload.before = options.before;
    if (options.limit !== undefined) payload.limit = options.limit;
    return this.#link.request('history:fetch', payload);
  }

  /** Leaves the room; listeners are dropped. Leaving while offline just forgets the room (the gateway already did). */
  async leave(): Promise<void> {
    if (this.#phase === 'left') return;
    this.#close();
    try {
      await this.#link.request('room:leave', { room: this.name });
    } catch (error) {
      if (!isClientError(error, 'DISCONNECTED', 'NOT_IN_ROOM')) throw error;
    }
  }

  /**
   * @internal Joins, or after a reconnect joins again (`rejoin`): then delivers what was missed,
   * then what arrived meanwhile, each message once and in order. On the first join no listener
   * can exist yet, so those messages become `initialMessages`. If a rejoin fails it rejects and
   * the room stays 'syncing' (live events held) until a later rejoin succeeds or the client drops it.
   */
  async sync(send: Requester, rejoin: boolean): Promise<void> {
    if (this.#phase === 'left' || (rejoin && this.#phase === 'joining')) return;
    if (rejoin) this.#phase = 'syncing';
    const result = await send('room:join', { room: this.name });
    const fetchOlder = (before: string) => send('history:fetch', { room: this.name, before, limit: CATCH_UP_PAGE });
    const missed = rejoin
      ? await collectMissed(result.messages, this.#lastSeenId, fetchOlder, this.#link.catchUpPages)
      : result.messages;
    if (!this.joined) return; // left while the join was in flight
    const initial: ChatMessage[] = [];
    const deliver = (message: ChatMessage) => {
      if (!this.#markSeen(message)) return;
      if (rejoin) this.#listeners.emit('message', message);
      else initial.push(message);
    };
    this.#phase = 'joined';
    this.#resetPresence(result.mode, result.members, result.memberCount, rejoin);
    for (const message of missed) deliver(message);
    for (const item of this.#takePending()) {
      if (item.kind === 'message') deliver(item.message);
      else if (item.kind === 'diff') this.#applyDiff(item.diff, rejoin);
      else this.#applyCount(item.count, rejoin);
    }
    if (!rejoin) this.#initialMessages = initial;
  }

  /**
   * @internal Joined and caught up when the connection dropped. After a recovered reconnect such
   * a room needs nothing: the gateway kept it and replays what it missed.
   */
  get synced(): boolean {
    return this.#phase === 'joined';
  }

  /** @internal The gateway will not take us back: the room is gone for this client. */
  drop(): void {
    this.#close();
  }

  /** @internal */
  receiveMessage(message: ChatMessage): void {
    if (this.#phase === 'joined') this.#deliver(message);
    else if (this.#phase !== 'left') this.#hold({ kind: 'message', message });
  }

  /** @internal */
  receiveDiff(diff: PresenceDiff): void {
    if (this.#phase === 'joined') this.#applyDiff(diff, true);
    else if (this.#phase !== 'left') this.#hold({ kind: 'diff', diff });
  }

  /** @internal */
  receiveCount(count: PresenceCount): void {
    if (this.#phase === 'joined') this.#applyCount(count, true);
    else if (this.#phase !== 'left') this.#hold({ kind: 'count', count });
  }

  /** @internal */
  receiveTyping(event: TypingEvent): void {
    if (this.#phase === 'joined') this.#listeners.emit('typing', event);
  }

  #deliver(message: ChatMessage): void {
    if (this.#markSeen(message)) this.#listeners.emit('message', message);
  }

  #markSeen(message: ChatMessage): boolean {
    if (!this.#seen.add(message.id)) return false;
    this.#lastSeenId = message.id;
    return true;
  }

  /** A members-mode event: every entry says where a member is now, so applying it again changes nothing. */
  #applyDiff(diff: PresenceDiff, notify: boolean): void {
    if (diff.full === true) {
      this.#resetPresence('members', diff.joined, diff.count, notify);
      return;
    }
    const self = this.#link.selfId();
    const changes: PresenceChange[] = [];
    for (const member of diff.joined) {
      if (!this.#members.has(member.id)) changes.push({ type: 'join', room: this.name, member });
      this.#members.set(member.id, member);
    }
    for (const member of diff.left) {
      // We are in every room we hold: a leave of our own user is stale (a dropped socket's, replayed).
      if (member.id !== self && this.#members.delete(member.id))
        changes.push({ type: 'leave', room: this.name, member });
    }
    if (this.#mode === 'large') this.#members.clear(); // a diff that crossed a switch: the count is what counts
    const before: RoomCount = { count: this.#count, mode: this.#mode };
    this.#count = diff.count;
    if (!notify) return;
    if (this.#mode === 'members') for (const change of changes) this.#listeners.emit('presence', change);
    this.#countChanged(before);
  }

  /** A large-mode event: the count, and the first one after members mode says the list is gone. */
  #applyCount(event: PresenceCount, notify: boolean): void {
    const before: RoomCount = { count: this.#count, mode: this.#mode };
    this.#mode = 'large';
    this.#members.clear();
    this.#count = event.count;
    if (notify) this.#countChanged(before);
  }

  /** Replaces the presence (a join ack, a full diff); with `notify`, listed members' changes go out as presence changes. */
  #resetPresence(mode: PresenceMode, members: readonly Member[], count: number, notify: boolean): void {
    const before = this.#members;
    const was: RoomCount = { count: this.#count, mode: this.#mode };
    this.#members = new Map(mode === 'members' ? members.map((member) => [member.id, member]) : []);
    this.#mode = mode;
    this.#count = count;
    if (!notify) return;
    // Across a mode switch the list appears or disappears whole: `count` says so, not one change per member.
    if (was.mode === 'members' && mode === 'members') {
      const next = this.#members;
      for (const [id, member] of next)
        if (!before.has(id)) this.#listeners.emit('presence', { type: 'join', room: this.name, member });
      for (const [id, member] of before)
        if (!next.has(id)) this.#listeners.emit('presence', { type: 'leave', room: this.name, member });
    }
    this.#countChanged(was);
  }

  #countChanged(before: RoomCount): void {
    if (before.count !== this.#count || before.mode !== this.#mode)
      this.#listeners.emit('count', { count: this.#count, mode: this.#mode });
  }

  #hold(item: Pending): void {
    // Bounded: if catching up stalls, the oldest held events give way (catch-up refetches messages anyway).
    if (this.#pending.length >= MAX_PENDING) this.#pending.shift();
    this.#pending.push(item);
  }

  #takePending(): Pending[] {
    const items = this.#pending;
    this.#pending = [];
    return items;
  }

  #assertJoined(event: string): void {
    if (this.#phase === 'left')
      throw new SwitchyardClientError('NOT_IN_ROOM', `Room "${this.name}" was left`, { event });
  }

  #close(): void {
    this.#phase = 'left';
    this.#pending = [];
    this.#listeners.clear();
    this.#link.forget(this);
  }
}
