import type { ChatMessage, HistoryPage } from '@switchyard/protocol';

export interface CatchUp {
  /** Messages after the last seen one, oldest first (may still hold some already seen). */
  messages: ChatMessage[];
  /** False when the last seen message was not found: history was trimmed or the page budget ran out. */
  complete: boolean;
}

/**
 * What a room missed while the connection was down. The gateway's history only pages backwards
 * (`before`), so we walk back from the latest messages (the rejoin ack) until the last message
 * we delivered shows up. Ids are treated as opaque: we look for the id, never compare ids.
 */
export async function collectMissed(
  latest: readonly ChatMessage[],
  lastSeenId: string | undefined,
  fetchOlder: (before: string) => Promise<HistoryPage>,
  maxPages: number,
): Promise<CatchUp> {
  let collected = [...latest];
  let exhausted = false;
  for (let pages = 0; ; pages++) {
    if (lastSeenId !== undefined) {
      const at = collected.findIndex((message) => message.id === lastSeenId);
      if (at >= 0) return { messages: collected.slice(at + 1), complete: true };
    }
    const oldest = collected[0];
    // At the start of history: everything here is newer than what we saw (or we saw nothing).
    if (oldest === undefined || exhausted) return { messages: collected, complete: lastSeenId === undefined };
    if (pages >= maxPages) return { messages: collected, complete: false };
    const page = await fetchOlder(oldest.id);
    collected = [...page.messages, ...collected];
    exhausted = !page.hasMore || page.messages.length === 0;
  }
}
