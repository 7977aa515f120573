/**
 * Whether this node still takes traffic. Shared by readiness, the handshake gate and the
 * drain procedure; it only ever goes one way.
 */
export class Lifecycle {
  #draining = false;

  get draining(): boolean {
    return this.#draining;
  }

  /** Returns false when draining had already started. */
  startDraining(): boolean {
    if (this.#draining) return false;
    this.#draining = true;
    return true;
  }
}
