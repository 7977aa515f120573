/**
 * Whether this node still takes traffic. Shared by readiness, the handshake gate, SSE and the
 * drain procedure; it only ever goes one way.
 */
export class Lifecycle {
  #draining = false;
  #closing = false;
  readonly #onDraining: (() => void)[] = [];

  get draining(): boolean {
    return this.#draining;
  }

  /** True from the moment the node began to close (it drains first): HTTP requests but probes are refused. */
  get closing(): boolean {
    return this.#closing;
  }

  startClosing(): void {
    this.#closing = true;
  }

  /** Runs `listener` once, when draining starts (features that hold connections of their own end them). */
  onDraining(listener: () => void): void {
    if (this.#draining) listener();
    else this.#onDraining.push(listener);
  }

  /** Returns false when draining had already started. */
  startDraining(): boolean {
    if (this.#draining) return false;
    this.#draining = true;
    for (const listener of this.#onDraining.splice(0)) listener();
    return true;
  }
}
