import type { SseGap } from '@switchyard/protocol';
import type { MessageStore } from '../store/message-store.js';
import { frame, messageFrame } from './frames.js';
import type { SseStream } from './stream.js';

/** Page size of `store.after` while replaying. */
const REPLAY_PAGE = 100;

/**
 * Replays what the history holds after `afterId`, page by page at the client's pace, with an
 * `event: gap` first when the history no longer reaches back to `afterId`. Resolves with the
 * id of the last replayed message (undefined when there was none) — the seam for `goLive`.
 */
export async function replayHistory(
  stream: SseStream,
  store: MessageStore,
  room: string,
  afterId: string,
): Promise<string | undefined> {
  let cursor = afterId;
  let lastReplayed: string | undefined;
  for (let first = true; ; first = false) {
    const page = await store.after(room, cursor, REPLAY_PAGE);
    if (stream.closed) return lastReplayed;
    if (first && page.gap) {
      const oldest = page.messages[0]?.id;
      const notice: SseGap = {
        lastEventId: afterId,
        ...(oldest === undefined ? {} : { oldestAvailableId: oldest }),
      };
      if (!(await stream.replay(frame('gap', notice)))) return lastReplayed;
    }
    for (const message of page.messages) {
      if (!(await stream.replay(messageFrame(message)))) return lastReplayed;
      lastReplayed = message.id;
    }
    const last = page.messages.at(-1);
    // A store that answers a full page without moving forward would loop forever.
    if (page.messages.length < REPLAY_PAGE || last === undefined || last.id <= cursor) return lastReplayed;
    cursor = last.id;
  }
}
