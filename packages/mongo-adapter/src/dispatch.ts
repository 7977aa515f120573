/**
 * What this node has read from its change stream and not yet applied, in delivery order. Applying an event
 * writes to the local sockets it is for; a burst (hundreds of events per getMore, each for hundreds of
 * sockets) is spread over event-loop turns by a budget of socket writes per turn, so the node keeps
 * reading, writing its own messages and answering requests in between. The first events of a burst are
 * applied at once, in the turn they arrived.
 */
export interface Dispatchable {
  /** Applies the event; returns how many socket writes it took (roughly). */
  apply(): number;
  /** Delivered after events that come later in the stream (see `Sequencer`). */
  late: boolean;
}

export class DispatchQueue {
  private items: Dispatchable[] = [];
  private head = 0;
  private scheduled: NodeJS.Immediate | undefined;
  private lateQueued = 0;
  private readonly roomWaiters: Array<() => void> = [];

  constructor(
    private readonly budgetPerTurn: number,
    /** Above this many queued events the change feed waits before reading more. */
    private readonly maxQueued: number,
    private readonly onError: (error: unknown) => void,
  ) {}

  get size(): number {
    return this.items.length - this.head;
  }

  /** Events delivered out of stream order still waiting here: delivery is not a stream prefix until they are applied. */
  get late(): number {
    return this.lateQueued;
  }

  push(item: Dispatchable): void {
    this.items.push(item);
    if (item.late) this.lateQueued++;
  }

  /** Applies what the budget allows now; the rest continues in the next turns. */
  drain(): void {
    if (this.scheduled) return; // a turn is already booked: keep the order of turns
    this.run();
  }

  /** Applies everything now, whatever the budget (closing). */
  flush(): void {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    this.run(Number.POSITIVE_INFINITY);
  }

  /** Resolves when the queue has room again; undefined when it has room now. */
  room(): Promise<void> | undefined {
    if (this.size < this.maxQueued) return undefined;
    return new Promise((resolve) => this.roomWaiters.push(resolve));
  }

  private run(budget = this.budgetPerTurn): void {
    this.scheduled = undefined;
    let spent = 0;
    while (this.head < this.items.length) {
      if (spent >= budget) {
        this.scheduled = setImmediate(() => this.run());
        break;
      }
      const item = this.items[this.head]!;
      this.items[this.head] = undefined as unknown as Dispatchable;
      this.head++;
      if (item.late) this.lateQueued--;
      try {
        spent += Math.max(1, item.apply());
      } catch (error) {
        this.onError(error);
      }
    }
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    if (this.size < this.maxQueued) for (const waiter of this.roomWaiters.splice(0)) waiter();
  }
}
