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
/** Applies one held event: a message through `deliver`, presence with `notify` or not. */
type Pending = (deliver: (message: ChatMessage) => void, notify: boolean) => void;

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
  /** Keystrokes since the last `typing` sent, inside its interval: one more goes out when it ends. */
  #typedSince = false;
  #typingTimer: ReturnType<typeof setTimeout> | undefined;

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
  listMembers(options: MembersOptions = {}): Promise<MembersPage> {
    // A room left: the gateway answers NOT_IN_ROOM.
    return this.#link.request('members:list', { ...options, room: this.name });
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
    this.#stopTyping();
    const { message } = await this.#link.request('message:send', {
      room: this.name,
      text,
      clientMessageId: randomId(),
    });
    if (this.#phase === 'joined') this.#deliver(message);
    return message;
  }

  /**
   * Tells the others you are typing. Throttled: calling it on every keystroke is fine. At most one
   * `typing` per `typingIntervalMs`, at the first keystroke and — when more keystrokes came within
   * that interval — once more at its end, so someone typing steadily shows as typing all along.
   * Sending a message ends it.
   */
  typing(): void {
    if (this.#phase !== 'joined') return;
    const wait = this.#lastTypingAt + this.#link.typingIntervalMs - Date.now();
    if (wait <= 0) return this.#sendTyping();
    this.#typedSince = true;
    this.#typingTimer ??= setTimeout(() => {
      this.#typingTimer = undefined;
      if (this.#typedSince && this.#phase === 'joined') this.#sendTyping();
    }, wait);
  }

  #sendTyping(): void {
    this.#typedSince = false;
    this.#lastTypingAt = Date.now();
    this.#link.emitTyping(this.name);
  }

  #stopTyping(): void {
    this.#typedSince = false;
    clearTimeout(this.#typingTimer);
    this.#typingTimer = undefined;
  }

  /** A page of older messages, oldest first. Not delivered to `message` listeners. */
  async history(options: HistoryOptions = {}): Promise<HistoryPage> {
    this.#assertJoined('history:fetch');
    return this.#link.request('history:fetch', { ...options, room: this.name });
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
    this.#present(result.mode, result.memberCount, result.members, [], true, rejoin);
    for (const message of missed) deliver(message);
    for (const held of this.#takePending()) held(deliver, rejoin);
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
    else if (this.#phase !== 'left') this.#hold((deliver) => deliver(message));
  }

  /** @internal `presence:diff` or `presence:count`. */
  receivePresence(event: PresenceDiff | PresenceCount): void {
    if (this.#phase === 'joined') this.#applyPresence(event, true);
    else if (this.#phase !== 'left') this.#hold((_, notify) => this.#applyPresence(event, notify));
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

  /** Every presence event states where members are now: applying one twice, or after a join ack that reflects it, changes nothing. */
  #applyPresence(event: PresenceDiff | PresenceCount, notify: boolean): void {
    if ('joined' in event) this.#present('members', event.count, event.joined, event.left, event.full === true, notify);
    else this.#present('large', event.count, [], [], true, notify);
  }

  /**
   * The room's presence from now on: a members-mode list (replacing the one held, with `reset`) or
   * a large room's count. With `notify`, listed members' arrivals and departures go to `presence`
   * listeners (not across a mode switch: the whole list appears or goes, which `count` says).
   */
  #present(
    mode: PresenceMode,
    count: number,
    joined: readonly Member[],
    left: readonly Member[],
    reset: boolean,
    notify: boolean,
  ): void {
    const before = this.#members;
    const after = new Map(reset || mode === 'large' ? [] : before);
    const self = this.#link.selfId();
    if (mode === 'members') for (const member of joined) after.set(member.id, member);
    // We are in every room we hold: a leave of our own user is stale (a dropped socket's, replayed).
    for (const member of left) if (member.id !== self) after.delete(member.id);
    const changed = notify && (mode !== this.#mode || count !== this.#count);
    if (notify && mode === this.#mode && mode === 'members') {
      this.#announce('join', after, before);
      this.#announce('leave', before, after);
    }
    this.#members = after;
    this.#mode = mode;
    this.#count = count;
    if (changed) this.#listeners.emit('count', { count, mode });
  }

  /** A `type` presence change for each member of `from` that `to` lacks. */
  #announce(type: PresenceChange['type'], from: Map<string, Member>, to: Map<string, Member>): void {
    for (const [id, member] of from)
      if (!to.has(id)) this.#listeners.emit('presence', { type, room: this.name, member });
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
    this.#stopTyping();
    this.#phase = 'left';
    this.#pending = [];
    this.#listeners.clear();
    this.#link.forget(this);
  }
}
