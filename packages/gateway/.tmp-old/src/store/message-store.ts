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
   * True when messages right after `afterId` are no longer held (evicted), so the caller
   * missed some and should tell its client to refetch instead of resuming.
   */
  gap: boolean;
}

export interface MessageStore {
  append(input: AppendInput): Promise<AppendResult>;
  /** The newest `limit` messages of a room, oldest first. */
  latest(room: string, limit: number): Promise<ChatMessage[]>;
  /** The `limit` messages just older than `beforeId` (the newest ones when omitted), oldest first. */
  before(room: string, beforeId: string | undefined, limit: number): Promise<HistoryBefore>;
  /** The `limit` messages just newer than `afterId`, oldest first. */
  after(room: string, afterId: string, limit: number): Promise<HistoryAfter>;
  /** Releases resources; the gateway calls it on close. */
  close?(): Promise<void>;
}
