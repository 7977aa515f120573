/**
 * Everything this node delivers to its local sockets, for one namespace, in one order: the order in which
 * each delivery got its place (see `positions.ts`). Nothing here ever waits for MongoDB.
 *
 * The node's own operations (broadcasts, socketsJoin, disconnectSockets...) run in the next event-loop
 * turn rather than at once: their write is on the wire first (the outbox starts it in a microtask), and
 * only then does the node spend time on its own sockets. What arrives from the change stream meanwhile
 * runs behind them, so it keeps the place it was given; when nothing waits, it runs at once.
 *
 * Every operation is O(1): under load thousands of deliveries may wait for the next turn.
 */
export class LocalDeliveryQueue {
  private entries: Array<(() => void) | undefined> = [];
  private head = 0;
  private scheduled: NodeJS.Immediate | undefined;

  constructor(private readonly onError: (error: unknown) => void) {}

  get waiting(): number {
    return this.entries.length - this.head;
  }

  /** Runs `run` in the next event-loop turn, after everything queued before it. */
  add(run: () => void): void {
    this.entries.push(run);
    this.scheduled ??= setImmediate(() => {
      this.scheduled = undefined;
      this.drain();
    });
  }

  /** Runs `run` now when nothing waits, else right after what does. */
  addInOrder(run: () => void): void {
    if (this.head === this.entries.length) {
      this.runSafely(run);
      return;
    }
    this.add(run);
  }

  /** Runs everything queued now (a restore's cut, close). */
  flush(): void {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    this.drain();
  }

  private drain(): void {
    // Entries added while draining (a delivery that emits) run in this same pass, in order.
    while (this.head < this.entries.length) {
      const run = this.entries[this.head]!;
      this.entries[this.head] = undefined;
      this.head++;
      this.runSafely(run);
    }
    this.entries = [];
    this.head = 0;
  }

  private runSafely(run: () => void): void {
    try {
      run();
    } catch (error) {
      this.onError(error);
    }
  }
}
