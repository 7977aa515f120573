import type { ChatMessage, HistoryPage } from '@switchyard/protocol';

/**
 * What a room missed while the connection was down: the messages after the last one it
 * delivered, oldest first (may still hold some already seen; seen ids drop those). The gateway's
 * history only pages backwards (`before`), so we walk back from the latest messages (the rejoin
 * ack) until the last message we delivered shows up. Ids are treated as opaque: we look for the
 * id, never compare ids. If history was trimmed or `maxPages` ran out before it showed up, what
 * was collected is all there is to deliver.
 */
export async function collectMissed(
  latest: readonly ChatMessage[],
  lastSeenId: string | undefined,
  fetchOlder: (before: string) => Promise<HistoryPage>,
  maxPages: number,
): Promise<ChatMessage[]> {
  let collected = [...latest];
  let exhausted = false;
  for (let pages = 0; ; pages++) {
    const at = lastSeenId === undefined ? -1 : collected.findIndex((message) => message.id === lastSeenId);
    if (at >= 0) return collected.slice(at + 1);
    const oldest = collected[0];
    // At the start of history (or out of budget): everything here is newer than what we saw.
    if (oldest === undefined || exhausted || pages >= maxPages) return collected;
    const page = await fetchOlder(oldest.id);
    collected = [...page.messages, ...collected];
    exhausted = !page.hasMore || page.messages.length === 0;
  }
}
