interface Entry {
  /** Increasing: entries run in this order. */
  id: number;
  ready: boolean;
  run: () => void;
  settle?: (token: string | undefined) => void;
  /** Settled while an earlier entry still waited: runs after broadcasts that come later in the stream. */
  late: boolean;
  /** Delivered without its echo (timeout); counts until the echo, or its failure, is known. */
  early: 'no' | 'waiting' | 'known';
}

/**
 * This node's own operations on its local sockets, for one namespace, in the order the application asked
 * for them. A broadcast that waits for its server-assigned offset (its own copy coming back through the
 * change stream) holds back whatever was emitted after it, so local clients see this node's packets in
 * emission order.
 *
 * Ready operations run in the next event-loop turn rather than at once: the message's insert is on the
 * wire first (the outbox starts it in a microtask), and only then does the node spend time on its own
 * sockets. An echo settles its entry during dispatch and runs it right there, in stream order.
 *
 * Every operation is O(1): under load thousands of broadcasts may wait for their echo at once.
 */
export class LocalDeliveryQueue {
  private entries: Entry[] = [];
  private head = 0;
  private nextId = 0;
  /** Ids of entries not settled yet, in increasing order (a Set keeps insertion order). */
  private readonly unsettled = new Set<number>();
  private scheduled: NodeJS.Immediate | undefined;
  private lateCount = 0;
  private earlyCount = 0;

  constructor(private readonly onError: (error: unknown) => void) {}

  get waiting(): number {
    return this.entries.length - this.head;
  }

  /**
   * Whether what this queue delivered is in stream order: no entry overtaken by a later echo waits, and
   * nothing went out before its echo without the echo being known since.
   */
  get inStreamOrder(): boolean {
    return this.lateCount === 0 && this.earlyCount === 0;
  }

  /**
   * An operation on this node's sockets only (nothing written first): at once when nothing waits before
   * it, else in order behind what does.
   */
  addLocalOnly(run: () => void): void {
    if (this.head === this.entries.length) {
      try {
        run();
      } catch (error) {
        this.onError(error);
      }
      return;
    }
    this.add(run);
  }

  add(run: () => void): void {
    this.entries.push({ id: this.nextId++, ready: true, run, late: false, early: 'no' });
    this.scheduled ??= setImmediate(() => {
      this.scheduled = undefined;
      this.drain();
    });
  }

  /**
   * Adds a delivery that runs once `settle(token)` is called (or after `timeoutMs` with `undefined`).
   * `settle` may be called synchronously and more than once: the first call delivers; after a timeout, a
   * later call tells that the echo (or its failure) is now known.
   */
  addPending(run: (token: string | undefined) => void, timeoutMs: number): (token: string | undefined) => void {
    const entry: Entry = { id: this.nextId++, ready: false, run: () => undefined, late: false, early: 'no' };
    this.unsettled.add(entry.id);
    let timer: NodeJS.Timeout | undefined;
    const settle = (token: string | undefined) => {
      if (entry.ready) {
        if (entry.early === 'waiting') {
          entry.early = 'known';
          this.earlyCount--;
        }
        return;
      }
      if (timer) clearTimeout(timer);
      entry.ready = true;
      entry.run = () => run(token);
      this.unsettled.delete(entry.id);
      const oldestWaiting = this.unsettled.values().next().value;
      if (oldestWaiting !== undefined && oldestWaiting < entry.id) {
        entry.late = true;
        this.lateCount++;
      }
      this.drain();
    };
    entry.settle = settle;
    this.entries.push(entry);
    timer = setTimeout(() => {
      entry.early = 'waiting';
      this.earlyCount++;
      settle(undefined);
    }, timeoutMs);
    timer.unref();
    return settle;
  }

  /** Delivers everything now, without waiting for offsets (close). */
  flush(): void {
    for (const entry of this.entries.slice(this.head)) entry.settle?.(undefined);
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    this.drain();
  }

  private drain(): void {
    while (this.head < this.entries.length && this.entries[this.head]!.ready) {
      const entry = this.entries[this.head]!;
      this.entries[this.head] = undefined as unknown as Entry;
      this.head++;
      if (entry.late) this.lateCount--;
      try {
        entry.run();
      } catch (error) {
        this.onError(error);
      }
    }
    if (this.head === this.entries.length) {
      this.entries = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }
}
