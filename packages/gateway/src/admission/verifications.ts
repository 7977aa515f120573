import PQueue from 'p-queue';
import { SwitchyardError } from '@switchyard/protocol';

/*
 * At most JWT_VERIFY_MAX_CONCURRENT JWT verifications at once on this node, shared by socket
 * handshakes, SSE streams and the HTTP publish API; the others wait their turn, up to `maxQueued`
 * of them, and beyond that are refused with OVERLOADED (503) at once: a socket can send its connect
 * packet again and again on one Engine.IO session, so the handshake budget alone does not bound them.
 */

export class VerificationBudget {
  readonly #queue: PQueue;

  constructor(
    maxConcurrent: number,
    private readonly maxQueued: number,
  ) {
    this.#queue = new PQueue({ concurrency: maxConcurrent });
  }

  get running(): number {
    return this.#queue.pending;
  }

  get queued(): number {
    return this.#queue.size;
  }

  /** `verify`, bounded by this budget. */
  wrap<A extends unknown[], R>(verify: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
    return (...args) => {
      if (this.#queue.size >= this.maxQueued) return Promise.reject(new SwitchyardError('OVERLOADED'));
      return this.#queue.add(() => verify(...args));
    };
  }
}
