/**
 * The ids of the most recent messages delivered in a room, so a message that arrives twice
 * (live and again in a catch-up page, or in a send ack and again live) is delivered once.
 * Bounded: the oldest ids are forgotten first.
 */
export class SeenIds {
  readonly #ids = new Set<string>();
  readonly #capacity: number;

  constructor(capacity = 2000) {
    this.#capacity = capacity;
  }

  /** Returns false when the id was already there. */
  add(id: string): boolean {
    if (this.#ids.has(id)) return false;
    this.#ids.add(id);
    if (this.#ids.size > this.#capacity) {
      // A Set iterates in insertion order, so the first id is the oldest.
      const oldest = this.#ids.values().next().value;
      if (oldest !== undefined) this.#ids.delete(oldest);
    }
    return true;
  }
}
