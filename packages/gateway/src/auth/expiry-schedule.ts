/*
 * Things due at a time (ms since the epoch), run by one timer for the whole schedule: the earliest
 * due time. JWTs expire on whole seconds, so many sockets share a due time and an entry costs its
 * place in a Set — no timer, no closure per socket.
 */
export class ExpirySchedule<T> {
  readonly #due = new Map<number, Set<T>>();
  #timer: NodeJS.Timeout | undefined;
  #armedFor = Infinity;

  constructor(private readonly run: (item: T) => void) {}

  add(item: T, atMs: number): void {
    let items = this.#due.get(atMs);
    if (items === undefined) this.#due.set(atMs, (items = new Set()));
    items.add(item);
    if (atMs < this.#armedFor) this.#arm(atMs);
  }

  delete(item: T, atMs: number): void {
    const items = this.#due.get(atMs);
    if (items?.delete(item) && items.size === 0) this.#due.delete(atMs);
  }

  get size(): number {
    let size = 0;
    for (const items of this.#due.values()) size += items.size;
    return size;
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#due.clear();
    this.#armedFor = Infinity;
  }

  #arm(atMs: number): void {
    clearTimeout(this.#timer);
    this.#armedFor = atMs;
    // setTimeout's ceiling is about 24.8 days: a later time is reached in steps.
    this.#timer = setTimeout(() => this.#fire(), Math.min(Math.max(0, atMs - Date.now()), 2 ** 31 - 1));
    this.#timer.unref();
  }

  #fire(): void {
    this.#timer = undefined;
    this.#armedFor = Infinity;
    const now = Date.now();
    let next = Infinity;
    for (const [atMs, items] of this.#due) {
      if (atMs > now) {
        next = Math.min(next, atMs);
        continue;
      }
      this.#due.delete(atMs);
      for (const item of items) this.run(item);
    }
    // Items added while running are in the map and armed already, unless later than `next`.
    if (next < this.#armedFor) this.#arm(next);
  }
}
