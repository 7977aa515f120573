/*
 * At most `max` handshakes in progress on this node. A handshake takes a slot when its Engine.IO
 * session is requested and gives it back when its Socket.IO connection is made or refused, when the
 * transport closes, or at `deadlineMs` at the latest (a client that opens a session and never
 * connects stops counting). Everything expensive about a connection happens inside that span: the
 * JWT verification and the session restore against MongoDB.
 */

export interface HandshakeSlot {
  /** Gives the slot back; later calls do nothing. */
  release(): void;
}

export class HandshakeBudget {
  #inFlight = 0;
  #peak = 0;

  constructor(
    readonly max: number,
    private readonly deadlineMs: number,
  ) {}

  get inFlight(): number {
    return this.#inFlight;
  }

  /** The most handshakes ever in progress at once on this node (never above `max`). */
  get peak(): number {
    return this.#peak;
  }

  /** A slot, or undefined when the budget is spent. */
  take(onRelease: (heldMs: number) => void = () => undefined): HandshakeSlot | undefined {
    if (this.#inFlight >= this.max) return undefined;
    this.#inFlight += 1;
    if (this.#inFlight > this.#peak) this.#peak = this.#inFlight;
    const taken = performance.now();
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      clearTimeout(timer);
      this.#inFlight -= 1;
      onRelease(performance.now() - taken);
    };
    const timer = setTimeout(release, this.deadlineMs);
    timer.unref();
    return { release };
  }
}
