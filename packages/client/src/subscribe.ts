import {
  type ChatMessage,
  createSseParser,
  type ErrorCode,
  type Member,
  SSE_EVENTS,
  type SseEventName,
  type SseEvents,
  type SseGap,
  type TypingEvent,
} from '@switchyard/protocol';
import { fromErrorBody, SwitchyardClientError } from './errors.js';
import { Listeners } from './internal/listeners.js';
import type { PresenceChange, RoomCount } from './room.js';

/*
 * A receive-only subscription to a room over Server-Sent Events (`GET /v1/rooms/:room/events`):
 * no socket, plain HTTP through any proxy. In browsers it rides the global `EventSource`, which
 * resumes by itself with `Last-Event-ID`; elsewhere (Node) it reads the stream from `fetch` with
 * the protocol's parser. Either way it keeps the last message id, and after anything that ends
 * the stream (a network drop, a slow-consumer close, a draining node, an expired token) it
 * reconnects and resumes from that id: the gateway replays what was missed, or says `gap`.
 */

export type SubscriptionState = 'connecting' | 'open' | 'closed';

/** The gateway could not replay from `lastEventId`: messages after it are gone from its history. */
export type SubscriptionGap = SseGap;

export interface SubscriptionEvents {
  /** Every message of the room, in order, once — across reconnects. */
  message: (message: ChatMessage) => void;
  /** The whole member list: when the stream opens (members mode), and when a large room becomes small again. */
  members: (members: Member[]) => void;
  /** Someone arrived or left (members mode). */
  presence: (change: PresenceChange) => void;
  /** The member count, and whether the room is listed (`members`) or only counted (`large`). */
  count: (count: RoomCount) => void;
  /** Only with `{ typing: true }`. */
  typing: (event: TypingEvent) => void;
  gap: (gap: SubscriptionGap) => void;
  /**
   * Something went wrong. Informative while the subscription retries (`DISCONNECTED`,
   * `SLOW_CONSUMER`, `SHUTTING_DOWN`, `AUTH_EXPIRED` with a `token` function…); when it cannot
   * go on (`FORBIDDEN`, `INVALID_ROOM`, a refused token that cannot be refreshed) `state` is
   * `closed` by the time this fires.
   */
  error: (error: SwitchyardClientError) => void;
  /** The stream is (re)established. */
  open: () => void;
}

/** The part of the `EventSource` interface used here (browsers' own, or the `eventsource` package). */
export interface EventSourceLike {
  readonly readyState: number;
  addEventListener(type: string, listener: (event: Event & { data?: unknown; lastEventId?: string }) => void): void;
  close(): void;
}
export type EventSourceConstructor = new (url: string) => EventSourceLike;

export interface SubscribeOptions {
  /** A JWT (AUTH_MODE=jwt). A function is called before every (re)connection, so it can refresh. */
  token?: string | (() => string | Promise<string>);
  /** Also receive `typing` events. */
  typing?: boolean;
  /** Start after this message id (from an earlier subscription) instead of live. */
  lastEventId?: string;
  /** Default: `eventsource` when a global (or given) `EventSource` exists, else `fetch`. */
  transport?: 'eventsource' | 'fetch';
  EventSource?: EventSourceConstructor;
  fetch?: typeof fetch;
  /** Reconnection backoff after failures: exponential from `initialMs` to `maxMs`, with jitter. */
  reconnect?: { initialMs?: number; maxMs?: number };
}

export interface Subscription {
  readonly room: string;
  readonly state: SubscriptionState;
  /** The id of the last message received: what a later `subscribe(…, { lastEventId })` resumes from. */
  readonly lastEventId: string | undefined;
  on<E extends keyof SubscriptionEvents>(event: E, listener: SubscriptionEvents[E]): () => void;
  close(): void;
}

/** Refusals that a retry cannot fix. */
const FATAL_CODES: ReadonlySet<ErrorCode> = new Set(['FORBIDDEN', 'INVALID_ROOM', 'INVALID_PAYLOAD', 'NOT_FOUND']);
const AUTH_CODES: ReadonlySet<ErrorCode> = new Set(['AUTH_REQUIRED', 'AUTH_INVALID', 'AUTH_EXPIRED', 'TOKEN_EXPIRED']);
const EVENT_SOURCE_CLOSED = 2;

export function subscribe(url: string, room: string, options: SubscribeOptions = {}): Subscription {
  return new SseSubscription(url, room, options);
}

class SseSubscription implements Subscription {
  readonly room: string;
  readonly #endpoint: string;
  readonly #options: SubscribeOptions;
  readonly #listeners = new Listeners<SubscriptionEvents>();
  #state: SubscriptionState = 'connecting';
  #lastEventId: string | undefined;
  #failures = 0;
  /** The server's `retry:` hint, for reconnecting after a stream that ended cleanly. */
  #retryMs: number | undefined;
  #stop: () => void = () => {};
  #timer: ReturnType<typeof setTimeout> | undefined;
  #usingEventSource = false;

  constructor(url: string, room: string, options: SubscribeOptions) {
    this.room = room;
    this.#endpoint = `${url.replace(/\/+$/, '')}/v1/rooms/${encodeURIComponent(room)}/events`;
    this.#options = options;
    this.#lastEventId = options.lastEventId;
    // Listeners are attached synchronously after subscribe() returns: start on the next tick.
    this.#timer = setTimeout(() => void this.#connect(), 0);
  }

  get state(): SubscriptionState {
    return this.#state;
  }

  get lastEventId(): string | undefined {
    return this.#lastEventId;
  }

  on<E extends keyof SubscriptionEvents>(event: E, listener: SubscriptionEvents[E]): () => void {
    return this.#listeners.add(event, listener);
  }

  close(): void {
    if (this.#isClosed()) return;
    this.#state = 'closed';
    clearTimeout(this.#timer);
    this.#stop();
  }

  #isClosed(): boolean {
    return this.#state === 'closed';
  }

  async #connect(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'connecting';
    let token: string | undefined;
    try {
      token = typeof this.#options.token === 'function' ? await this.#options.token() : this.#options.token;
    } catch (cause) {
      return this.#failed(new SwitchyardClientError('AUTH_REQUIRED', 'The token function failed', { cause }));
    }
    // close() may have been called while the token was fetched.
    if (this.#isClosed()) return;
    const EventSourceImpl =
      this.#options.EventSource ?? (globalThis as { EventSource?: EventSourceConstructor }).EventSource;
    const transport = this.#options.transport ?? (EventSourceImpl === undefined ? 'fetch' : 'eventsource');
    this.#usingEventSource = transport === 'eventsource';
    if (transport === 'eventsource') {
      if (EventSourceImpl === undefined)
        throw new TypeError('subscribe: no EventSource available; use { transport: "fetch" }');
      this.#viaEventSource(EventSourceImpl, token);
    } else {
      await this.#viaFetch(token);
    }
  }

  /** Browsers: EventSource resumes by itself after drops; only a closed one (refused, or given up) is replaced. */
  #viaEventSource(EventSourceImpl: EventSourceConstructor, token: string | undefined): void {
    const source = new EventSourceImpl(this.#url(token, true));
    this.#stop = () => source.close();
    source.addEventListener('open', () => this.#opened());
    for (const name of SSE_EVENTS) {
      if (name === 'error') continue;
      source.addEventListener(name, (event) =>
        this.#dispatch(name, String(event.data), event.lastEventId || undefined),
      );
    }
    source.addEventListener('error', (event) => {
      // `event: error` from the gateway carries data; a connection error does not.
      if (typeof event.data === 'string') return this.#dispatch('error', event.data, undefined);
      if (this.#state === 'closed') return;
      if (source.readyState === EVENT_SOURCE_CLOSED) {
        // Refused (the status is not exposed to EventSource) or given up: retry with backoff and a fresh token.
        source.close();
        return this.#failed(new SwitchyardClientError('DISCONNECTED', 'The event stream was refused or failed'));
      }
      this.#state = 'connecting';
    });
  }

  async #viaFetch(token: string | undefined): Promise<void> {
    const abort = new AbortController();
    this.#stop = () => abort.abort();
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    if (this.#lastEventId !== undefined) headers['last-event-id'] = this.#lastEventId;
    let response: Response;
    try {
      response = await (this.#options.fetch ?? fetch)(this.#url(undefined, false), {
        headers,
        signal: abort.signal,
        cache: 'no-store',
      });
    } catch (cause) {
      return this.#failed(new SwitchyardClientError('DISCONNECTED', 'Could not reach the gateway', { cause }));
    }
    if (!response.ok || response.body === null) {
      const body = (await response.json().catch(() => undefined)) as Parameters<typeof fromErrorBody>[0];
      return this.#failed(
        body?.code === undefined
          ? new SwitchyardClientError('INTERNAL', `HTTP ${response.status}`)
          : fromErrorBody(body),
      );
    }
    this.#opened();
    const parse = createSseParser({
      onEvent: ({ event, data, id }) => this.#dispatch(event as SseEventName, data, id),
      onRetry: (retryMs) => (this.#retryMs = retryMs),
    });
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        parse(decoder.decode(value, { stream: true }));
      }
    } catch (cause) {
      if (this.#state === 'closed') return;
      return this.#failed(new SwitchyardClientError('DISCONNECTED', 'The event stream broke off', { cause }));
    }
    // The gateway ended the stream (slow consumer, draining): come back after its hint.
    this.#schedule(this.#retryMs ?? this.#backoff());
  }

  #url(token: string | undefined, withResume: boolean): string {
    const query = new URLSearchParams();
    if (this.#options.typing === true) query.set('typing', 'true');
    if (token !== undefined) query.set('token', token);
    // EventSource sends Last-Event-ID by itself once it has seen an id; this covers the first connection.
    if (withResume && this.#lastEventId !== undefined) query.set('lastEventId', this.#lastEventId);
    const search = query.toString();
    return search === '' ? this.#endpoint : `${this.#endpoint}?${search}`;
  }

  #opened(): void {
    if (this.#state === 'closed') return;
    this.#state = 'open';
    this.#failures = 0;
    this.#listeners.emit('open');
  }

  #dispatch(name: SseEventName, data: string, id: string | undefined): void {
    if (this.#state === 'closed') return;
    let payload: unknown;
    try {
      payload = JSON.parse(data);
    } catch {
      return;
    }
    switch (name) {
      case 'message:new':
        this.#lastEventId = id ?? (payload as ChatMessage).id;
        return this.#listeners.emit('message', payload as ChatMessage);
      case 'presence:diff': {
        const diff = payload as SseEvents['presence:diff'];
        if (diff.full === true) this.#listeners.emit('members', diff.joined);
        else {
          for (const member of diff.left) this.#listeners.emit('presence', { type: 'leave', room: diff.room, member });
          for (const member of diff.joined) this.#listeners.emit('presence', { type: 'join', room: diff.room, member });
        }
        return this.#listeners.emit('count', { count: diff.count, mode: 'members' });
      }
      case 'presence:count':
        return this.#listeners.emit('count', { count: (payload as SseEvents['presence:count']).count, mode: 'large' });
      case 'typing':
        return this.#listeners.emit('typing', payload as TypingEvent);
      case 'gap':
        return this.#listeners.emit('gap', payload as SseEvents['gap']);
      case 'error':
        // The gateway closes the stream after this; the reconnection resumes from the last id.
        return this.#streamError(fromErrorBody(payload as SseEvents['error']));
      case 'server:shutdown':
        this.#state = 'connecting';
        return;
    }
  }

  /** `event: error`: the stream ends. A token that expired is fetched again, or that is the end of it. */
  #streamError(error: SwitchyardClientError): void {
    if (error.code === 'TOKEN_EXPIRED') {
      if (typeof this.#options.token !== 'function') this.close();
      else if (this.#usingEventSource) {
        // EventSource would come back by itself with the expired token in its URL: replace it now.
        this.#stop();
        this.#schedule(0);
      }
    }
    this.#listeners.emit('error', error);
  }

  #failed(error: SwitchyardClientError): void {
    if (this.#state === 'closed') return;
    const refreshable = typeof this.#options.token === 'function';
    const fatal = FATAL_CODES.has(error.code) || (AUTH_CODES.has(error.code) && !refreshable);
    if (fatal) this.close();
    this.#listeners.emit('error', error);
    if (!fatal) this.#schedule(this.#backoff());
  }

  #schedule(delayMs: number): void {
    if (this.#state === 'closed') return;
    this.#state = 'connecting';
    this.#timer = setTimeout(() => void this.#connect(), delayMs);
  }

  #backoff(): number {
    const initial = this.#options.reconnect?.initialMs ?? 500;
    const max = this.#options.reconnect?.maxMs ?? 10_000;
    const ceiling = Math.min(max, initial * 2 ** this.#failures);
    this.#failures += 1;
    // Half fixed, half random: spread the reconnections of many clients after one node went away.
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }
}
