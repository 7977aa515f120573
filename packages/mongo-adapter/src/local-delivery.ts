interface Entry {
  ready: boolean;
  run: () => void;
  settle?: (token: string | undefined) => void;
}

/**
 * Local deliveries of one namespace, in the order the application asked for them. A broadcast that
 * waits for its server-assigned offset (its own copy coming back through the change stream) holds back
 * whatever was emitted after it, so local clients see this node's packets in emission order.
 * With nothing waiting, a delivery runs at once.
 */
export class LocalDeliveryQueue {
  private readonly entries: Entry[] = [];

  constructor(private readonly onError: (error: unknown) => void) {}

  get waiting(): number {
    return this.entries.length;
  }

  add(run: () => void): void {
    if (this.entries.length === 0) {
      this.safely(run);
      return;
    }
    this.entries.push({ ready: true, run });
  }

  /**
   * Adds a delivery that runs once `settle(token)` is called (or after `timeoutMs` with `undefined`).
   * `settle` may be called synchronously, more than once (only the first call counts).
   */
  addPending(run: (token: string | undefined) => void, timeoutMs: number): (token: string | undefined) => void {
    const entry: Entry = { ready: false, run: () => undefined };
    let timer: NodeJS.Timeout | undefined;
    const settle = (token: string | undefined) => {
      if (entry.ready) return;
      if (timer) clearTimeout(timer);
      entry.ready = true;
      entry.run = () => run(token);
      this.drain();
    };
    entry.settle = settle;
    this.entries.push(entry);
    timer = setTimeout(() => settle(undefined), timeoutMs);
    timer.unref();
    return settle;
  }

  /** Delivers everything now, without waiting for offsets (close). */
  flush(): void {
    for (const entry of [...this.entries]) entry.settle?.(undefined);
    this.drain();
  }

  private drain(): void {
    while (this.entries.length > 0 && this.entries[0]!.ready) {
      const entry = this.entries.shift()!;
      this.safely(entry.run);
    }
  }

  private safely(run: () => void): void {
    try {
      run();
    } catch (error) {
      this.onError(error);
    }
  }
}
