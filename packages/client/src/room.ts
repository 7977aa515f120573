import type { ChatMessage, HistoryPage, Member, PresenceEvent, TypingEvent } from '@switchyard/protocol';
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

export interface RoomEvents {
  /** Every message of the room once, in order: live ones, your own (from the send ack), and those missed while reconnecting. */
  message: (message: ChatMessage) => void;
  presence: (change: PresenceChange) => void;
  /** Someone else is typing. The gateway sends these volatile: they may be dropped, never retried. */
  typing: (event: TypingEvent) => void;
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
  readonly typingIntervalMs: number;
  readonly catchUpPages: number;
}

type Phase = 'joining' | 'joined' | 'syncing' | 'left';

/** Events that arrived while the room was joining or catching up; applied once it is in sync. */
type Pending = { kind: 'message'; message: ChatMessage } | { kind: 'presence'; change: PresenceChange };

const MAX_PENDING = 1000;
const CATCH_UP_PAGE = 100;

/** A joined room. Get one from `client.join(name)`. */
export class Room {
  readonly name: string;
  readonly #link: RoomLink;
  readonly #listeners = new Listeners<RoomEvents>();
  #members = new Map<string, Member>();
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

  /** Who is in the room now. */
  get members(): readonly Member[] {
    return [...this.#members.values()];
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
    this.#resetMembers(result.members, rejoin);
    for (const message of missed) deliver(message);
    for (const item of this.#takePending()) {
      if (item.kind === 'message') deliver(item.message);
      else this.#applyPresence(item.change, rejoin);
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
  receivePresence(type: PresenceChange['type'], event: PresenceEvent): void {
    const change: PresenceChange = { type, room: event.room, member: event.member };
    if (this.#phase === 'joined') this.#applyPresence(change, true);
    else if (this.#phase !== 'left') this.#hold({ kind: 'presence', change });
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

  #applyPresence(change: PresenceChange, notify: boolean): void {
    const known = this.#members.has(change.member.id);
    if (change.type === 'join') this.#members.set(change.member.id, change.member);
    else this.#members.delete(change.member.id);
    if (notify && known !== (change.type === 'join')) this.#listeners.emit('presence', change);
  }

  /** Replaces the member list; with `notify`, the difference goes out as presence changes. */
  #resetMembers(members: readonly Member[], notify: boolean): void {
    const before = this.#members;
    const next = (this.#members = new Map(members.map((member) => [member.id, member])));
    if (!notify) return;
    for (const [id, member] of before)
      if (!next.has(id)) this.#listeners.emit('presence', { type: 'leave', room: this.name, member });
    for (const [id, member] of next)
      if (!before.has(id)) this.#listeners.emit('presence', { type: 'join', room: this.name, member });
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
