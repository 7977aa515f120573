import type { ChatMessage } from '@switchyard/protocol';
import type { AppendInput, AppendResult, HistoryAfter, HistoryBefore, MessageStore } from './message-store.js';

export interface MemoryMessageStoreOptions {
  /** Messages kept per room; older ones are evicted. */
  historyPerRoom: number;
  /** Rooms kept; the room written least recently is evicted whole. Default 10 000. */
  maxRooms?: number;
  /** Remembered (author, clientMessageId) pairs; the oldest are forgotten first. Default 10 000. */
  maxIdempotencyKeys?: number;
}

interface RoomHistory {
  /** Oldest first; ids ascending. */
  messages: ChatMessage[];
  /** Id of the newest message evicted from this room ('' when none): resuming from it misses nothing. */
  evictedThrough: string;
}

const ID_DIGITS = 12;

/**
 * The embedded default store: bounded in every dimension (messages per room, rooms,
 * idempotency keys). Ids come from one process-wide sequence, zero-padded, so they keep
 * ordering a room's messages even after the room was evicted and written again.
 */
export class MemoryMessageStore implements MessageStore {
  readonly #historyPerRoom: number;
  readonly #maxRooms: number;
  readonly #maxIdempotencyKeys: number;
  readonly #rooms = new Map<string, RoomHistory>();
  readonly #byClientId = new Map<string, ChatMessage>();
  #sequence = 0;

  constructor(options: MemoryMessageStoreOptions) {
    this.#historyPerRoom = positive(options.historyPerRoom, 'historyPerRoom');
    this.#maxRooms = positive(options.maxRooms ?? 10_000, 'maxRooms');
    this.#maxIdempotencyKeys = positive(options.maxIdempotencyKeys ?? 10_000, 'maxIdempotencyKeys');
  }

  async append(input: AppendInput): Promise<AppendResult> {
    const key = input.clientMessageId === undefined ? undefined : `${input.author.id}\u0000${input.clientMessageId}`;
    const known = key === undefined ? undefined : this.#byClientId.get(key);
    if (known) return { message: known, created: false };

    this.#sequence += 1;
    const message: ChatMessage = {
      id: String(this.#sequence).padStart(ID_DIGITS, '0'),
      room: input.room,
      text: input.text,
      author: { id: input.author.id, name: input.author.name },
      sentAt: new Date().toISOString(),
      ...(input.clientMessageId === undefined ? {} : { clientMessageId: input.clientMessageId }),
    };
    const history = this.#touchRoom(input.room);
    history.messages.push(message);
    if (history.messages.length > this.#historyPerRoom) {
      const evicted = history.messages.splice(0, history.messages.length - this.#historyPerRoom);
      history.evictedThrough = evicted.at(-1)?.id ?? history.evictedThrough;
    }
    if (key !== undefined) this.#remember(key, message);
    return { message, created: true };
  }

  async latest(room: string, limit: number): Promise<ChatMessage[]> {
    return (await this.before(room, undefined, limit)).messages;
  }

  async before(room: string, beforeId: string | undefined, limit: number): Promise<HistoryBefore> {
    const messages = this.#rooms.get(room)?.messages ?? [];
    const end = beforeId === undefined ? messages.length : firstIndexAtOrAfter(messages, beforeId);
    const start = Math.max(0, end - limit);
    return { messages: messages.slice(start, end), hasMore: start > 0 };
  }

  async after(room: string, afterId: string, limit: number): Promise<HistoryAfter> {
    const history = this.#rooms.get(room);
    const messages = history?.messages ?? [];
    const at = firstIndexAtOrAfter(messages, afterId);
    const held = messages[at]?.id === afterId;
    const start = held ? at + 1 : at;
    // Ids are process-wide: one this room does not hold was evicted, or was never issued here.
    const knownPosition = held || (afterId !== '' && afterId === history?.evictedThrough);
    return { messages: messages.slice(start, start + limit), gap: !knownPosition };
  }

  async close(): Promise<void> {
    this.#rooms.clear();
    this.#byClientId.clear();
  }

  #touchRoom(room: string): RoomHistory {
    let history = this.#rooms.get(room);
    if (history) {
      // Re-insert so Map order is least recently written first.
      this.#rooms.delete(room);
    } else {
      history = { messages: [], evictedThrough: '' };
    }
    this.#rooms.set(room, history);
    while (this.#rooms.size > this.#maxRooms) this.#rooms.delete(this.#rooms.keys().next().value as string);
    return history;
  }

  #remember(key: string, message: ChatMessage): void {
    this.#byClientId.set(key, message);
    while (this.#byClientId.size > this.#maxIdempotencyKeys) {
      const oldest = this.#byClientId.keys().next().value as string;
      this.#byClientId.delete(oldest);
    }
  }
}

function positive(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}

/** Binary search: index of the first message whose id is >= `id`. */
function firstIndexAtOrAfter(messages: ChatMessage[], id: string): number {
  let low = 0;
  let high = messages.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if ((messages[mid] as ChatMessage).id < id) low = mid + 1;
    else high = mid;
  }
  return low;
}
