import type { ChatMessage, Member } from '@switchyard/protocol';
import { E2E_DEADLINE_MS, type TestSocket, waitFor } from '@switchyard/testkit';

/*
 * What a well-behaved client does around reconnects (the SDK does the same): after every reconnect
 * it (re)joins the room and pages back through history to the last message it had; with connection
 * state recovery most of what it missed was already replayed. `live` keeps every `message:new` as delivered, so a
 * duplicate delivery is visible to the test rather than hidden by the merge.
 */

interface JoinAck {
  ok: boolean;
  messages?: ChatMessage[];
}
interface HistoryAck {
  ok: boolean;
  messages?: ChatMessage[];
  hasMore?: boolean;
}

export class ChatReader {
  /** Ids of `message:new` in arrival order, duplicates included. */
  readonly live: string[] = [];
  /** Everything known, by id: live deliveries and history. */
  readonly messages = new Map<string, ChatMessage>();
  readonly presenceLeaves: Member[] = [];
  /** Fresh sessions (first connect included): each rejoined and read history. */
  joins = 0;
  /** Sessions restored by connection state recovery. */
  recoveries = 0;
  readonly fromHistoryAfterRecovery: string[] = [];
  readonly socket: TestSocket;
  readonly room: string;
  #resyncing: Promise<void> = Promise.resolve();

  constructor(socket: TestSocket, room: string) {
    this.socket = socket;
    this.room = room;
    socket.on('message:new', (message: ChatMessage) => {
      if (message.room !== room) return;
      this.live.push(message.id);
      this.messages.set(message.id, message);
    });
    socket.on('presence:diff', (diff) => {
      if (diff.room === room) this.presenceLeaves.push(...diff.left);
    });
    const onConnect = (): void => {
      // Like the SDK: even a recovered session checks history, so a packet the recovery could not
      // replay is still found (and counted: see `fromHistoryAfterRecovery`).
      if (this.socket.recovered) this.recoveries += 1;
      const recovered = this.socket.recovered;
      this.#resyncing = this.#resyncing
        .then(() => this.#resync(recovered))
        .catch(() => {
          this.socket.io.engine?.close(); // a failed resync: reconnect and try again
        });
    };
    socket.on('connect', onConnect);
    if (socket.connected) onConnect();
  }

  async ready(): Promise<this> {
    await waitFor('the reader to join', () => this.joins > 0, { timeoutMs: E2E_DEADLINE_MS });
    return this;
  }

  /** Rejoins and fetches what was missed, back to the newest message known before. */
  async #resync(recovered: boolean): Promise<void> {
    const known = [...this.messages.keys()].sort().at(-1);
    const before = new Set(this.messages.keys());
    const ack = (await this.socket.timeout(10_000).emitWithAck('room:join', { room: this.room })) as JoinAck;
    if (!ack.ok) throw new Error(`room:join refused: ${JSON.stringify(ack)}`);
    let page = ack.messages ?? [];
    for (;;) {
      for (const message of page) this.messages.set(message.id, message);
      const oldest = page[0]?.id;
      if (known === undefined || oldest === undefined || oldest <= known) break;
      const older = (await this.socket
        .timeout(10_000)
        .emitWithAck('history:fetch', { room: this.room, before: oldest, limit: 100 })) as HistoryAck;
      if (!older.ok) throw new Error(`history:fetch refused: ${JSON.stringify(older)}`);
      page = older.messages ?? [];
      if (page.length === 0 || older.hasMore === false) {
        for (const message of page) this.messages.set(message.id, message);
        break;
      }
    }
    if (recovered) {
      // Messages the restored session did not replay but history had (diagnostic, not asserted).
      for (const [id] of this.messages)
        if (!before.has(id) && !this.live.includes(id) && known !== undefined && id > known)
          this.fromHistoryAfterRecovery.push(id);
    } else {
      this.joins += 1;
    }
  }

  /** Texts of everything known, in id order. */
  texts(): string[] {
    return [...this.messages.values()]
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map((message) => message.text);
  }

  duplicateDeliveries(): string[] {
    const seen = new Set<string>();
    return this.live.filter((id) => (seen.has(id) ? true : (seen.add(id), false)));
  }
}

/**
 * Sends `text` until it is acknowledged, always with the same clientMessageId, across disconnects
 * and nodes: the store keeps it once whichever node the retry reaches.
 */
export async function sendUntilStored(
  reader: ChatReader,
  text: string,
  clientMessageId: string,
  deadlineMs = 60_000,
): Promise<ChatMessage> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    if (Date.now() > deadline) throw new Error(`could not send ${text}`);
    if (!reader.socket.connected) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      continue;
    }
    try {
      const ack = (await reader.socket
        .timeout(3000)
        .emitWithAck('message:send', { room: reader.room, text, clientMessageId })) as {
        ok: boolean;
        message?: ChatMessage;
      };
      if (ack.ok && ack.message) return ack.message;
    } catch {
      // No ack in time (the node went away): retry with the same clientMessageId.
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
