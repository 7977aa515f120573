import type { Collection, Db } from 'mongodb';
import type { ChatMessage } from '@switchyard/protocol';
import type { AppendInput, AppendResult, HistoryAfter, HistoryBefore, MessageStore } from './message-store.js';

/*
 * Chat history in MongoDB, shared by every gateway node.
 *
 * Ids: one counter document per room, incremented with `findOneAndUpdate` + `$inc` (atomic on the
 * server), zero-padded so that plain string order is the room's order on every node. A counter value
 * taken by an append that then turns out to be a retry is simply skipped: ids are ordered, not dense.
 *
 * Idempotency: a unique index on (room, author.id, clientMessageId) — only for messages that carry a
 * clientMessageId — so a retry that lands on another node while the first attempt is still in flight
 * is stored once; the loser gets duplicate key 11000 and answers with the stored message.
 */

export interface MongoMessageStoreOptions {
  /** Collection of messages. Default `messages`. */
  messages?: string;
  /** Collection of per-room counters. Default `room_counters`. */
  counters?: string;
}

interface MessageDocument {
  room: string;
  id: string;
  text: string;
  author: { id: string; name: string };
  sentAt: string;
  clientMessageId?: string;
}

interface CounterDocument {
  _id: string;
  seq: number;
}

/** 16 digits: 10^16 messages per room before string order breaks, far beyond any room's life. */
const ID_DIGITS = 16;
const DUPLICATE_KEY = 11000;
const NO_ID = { projection: { _id: 0 } } as const;

export class MongoMessageStore implements MessageStore {
  readonly #messages: Collection<MessageDocument>;
  readonly #counters: Collection<CounterDocument>;

  constructor(db: Db, options: MongoMessageStoreOptions = {}) {
    this.#messages = db.collection<MessageDocument>(options.messages ?? 'messages');
    this.#counters = db.collection<CounterDocument>(options.counters ?? 'room_counters');
  }

  /** Creates the indexes; idempotent, run at every start. */
  async setup(): Promise<void> {
    await this.#messages.createIndex({ room: 1, id: 1 }, { name: 'room_id', unique: true });
    await this.#messages.createIndex(
      { room: 1, 'author.id': 1, clientMessageId: 1 },
      {
        name: 'room_author_clientMessageId',
        unique: true,
        partialFilterExpression: { clientMessageId: { $exists: true } },
      },
    );
  }

  async append(input: AppendInput): Promise<AppendResult> {
    if (input.clientMessageId !== undefined) {
      const known = await this.#findRetry(input.room, input.author.id, input.clientMessageId);
      if (known) return { message: known, created: false };
    }
    const counter = await this.#counters.findOneAndUpdate(
      { _id: input.room },
      { $inc: { seq: 1 } },
      { upsert: true, returnDocument: 'after', includeResultMetadata: false },
    );
    if (counter === null) throw new Error(`room counter of ${JSON.stringify(input.room)} was not returned`);
    const message: ChatMessage = {
      id: String(counter.seq).padStart(ID_DIGITS, '0'),
      room: input.room,
      text: input.text,
      author: { id: input.author.id, name: input.author.name },
      sentAt: new Date().toISOString(),
      ...(input.clientMessageId === undefined ? {} : { clientMessageId: input.clientMessageId }),
    };
    try {
      // A copy: the driver adds `_id` to the document it inserts.
      await this.#messages.insertOne({ ...message });
      return { message, created: true };
    } catch (error) {
      if (input.clientMessageId === undefined || (error as { code?: unknown }).code !== DUPLICATE_KEY) throw error;
      // The same retry was stored meanwhile (possibly by another node).
      const known = await this.#findRetry(input.room, input.author.id, input.clientMessageId);
      if (!known) throw error;
      return { message: known, created: false };
    }
  }

  async latest(room: string, limit: number): Promise<ChatMessage[]> {
    return (await this.before(room, undefined, limit)).messages;
  }

  async before(room: string, beforeId: string | undefined, limit: number): Promise<HistoryBefore> {
    const filter = beforeId === undefined ? { room } : { room, id: { $lt: beforeId } };
    const newestFirst = await this.#messages
      .find(filter, NO_ID)
      .sort({ id: -1 })
      .limit(limit + 1)
      .toArray();
    const hasMore = newestFirst.length > limit;
    return { messages: newestFirst.slice(0, limit).reverse().map(toMessage), hasMore };
  }

  async after(room: string, afterId: string, limit: number): Promise<HistoryAfter> {
    // One query answers both: the message `afterId` itself (when the room holds it) and those after it.
    const docs = await this.#messages
      .find({ room, id: { $gte: afterId } }, NO_ID)
      .sort({ id: 1 })
      .limit(limit + 1)
      .toArray();
    const held = docs[0]?.id === afterId;
    const after = held ? docs.slice(1) : docs.slice(0, limit);
    return { messages: after.map(toMessage), gap: !held };
  }

  /** The MongoClient belongs to whoever created it; nothing to release here. */
  async close(): Promise<void> {}

  async #findRetry(room: string, authorId: string, clientMessageId: string): Promise<ChatMessage | undefined> {
    const doc = await this.#messages.findOne({ room, 'author.id': authorId, clientMessageId }, NO_ID);
    return doc === null ? undefined : toMessage(doc);
  }
}

/** Exactly the protocol's fields (its schema allows no others). */
function toMessage(doc: MessageDocument): ChatMessage {
  return {
    id: doc.id,
    room: doc.room,
    text: doc.text,
    author: { id: doc.author.id, name: doc.author.name },
    sentAt: doc.sentAt,
    ...(doc.clientMessageId === undefined ? {} : { clientMessageId: doc.clientMessageId }),
  };
}
