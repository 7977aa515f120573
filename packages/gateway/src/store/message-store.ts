import type { ChatMessage, Member } from '@switchyard/protocol';

/*
 * Where chat history lives. Async throughout so that a MongoDB store can implement it.
 * Message ids are opaque strings that order the messages of one room by plain string comparison.
 */

export interface AppendInput {
  room: string;
  text: string;
  author: Member;
  /**
   * Makes retries idempotent: the same (author.id, clientMessageId) is stored once, and
   * every later append with that pair returns the stored message with `created: false`.
   * Omitted by publishers that do not retry (e.g. server-side publishing).
   */
  clientMessageId?: string;
}

export interface AppendResult {
  message: ChatMessage;
  /** False when this was a retry of an already stored (author.id, clientMessageId). */
  created: boolean;
}

export interface HistoryBefore {
  /** Oldest first. */
  messages: ChatMessage[];
  /** True when older messages than the first returned one are still held. */
  hasMore: boolean;
}

export interface HistoryAfter {
  /** Oldest first. */
  messages: ChatMessage[];
  /**
   * True when `afterId` is not a message this room's history holds — evicted, or never issued (a
   * client's guess, an id from another deployment) — so the caller cannot tell what its client
   * missed and should say so (SSE: `event: gap`). `messages` are still those whose ids sort after
   * `afterId`.
   */
  gap: boolean;
}

export interface MessageStore {
  append(input: AppendInput): Promise<AppendResult>;
  /** The newest `limit` messages of a room, oldest first. */
  latest(room: string, limit: number): Promise<ChatMessage[]>;
  /** The `limit` messages just older than `beforeId` (the newest ones when omitted), oldest first. */
  before(room: string, beforeId: string | undefined, limit: number): Promise<HistoryBefore>;
  /** The `limit` messages just newer than `afterId`, oldest first, and whether `afterId` is one the room holds. */
  after(room: string, afterId: string, limit: number): Promise<HistoryAfter>;
  /** Releases resources; the gateway calls it on close. */
  close?(): Promise<void>;
}
