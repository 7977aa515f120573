interface Entry {
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
 */
export class LocalDeliveryQueue {
  private entries: Entry[] = [];
  private scheduled: NodeJS.Immediate | undefined;
  private lateCount = 0;
  private earlyCount = 0;

  constructor(private readonly onError: (error: unknown) => void) {}

  get waiting(): number {
    return this.entries.length;
  }

  /**
   * Whether what this queue delivered is in stream order: no entry overtaken by a later echo waits, and
   * nothing went out before its echo without the echo being known since.
   */
  get inStreamOrder(): boolean {
    return this.lateCount === 0 && this.earlyCount === 0;
  }

  add(run: () => void): void {
    this.entries.push({ ready: true, run, late: false, early: 'no' });
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
    const entry: Entry = { ready: false, run: () => undefined, late: false, early: 'no' };
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
      const index = this.entries.indexOf(entry);
      if (index > 0 && this.entries.slice(0, index).some((e) => !e.ready)) {
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
    for (const entry of [...this.entries]) entry.settle?.(undefined);
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    this.drain();
  }

  private drain(): void {
    while (this.entries.length > 0 && this.entries[0]!.ready) {
      const entry = this.entries.shift()!;
      if (entry.late) this.lateCount--;
      try {
        entry.run();
      } catch (error) {
        this.onError(error);
      }
    }
  }
}
