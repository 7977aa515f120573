import type { BroadcastOptions } from 'socket.io-adapter';

/*
 * "Delivered locally": the one public hook through which the gateway sees what its node delivers to
 * its own sockets, once per broadcast, from any origin (this node, another node, an emitter), after
 * the adapter's own ordering and in delivery order, whether or not a local socket was in the room.
 * The MongoDB adapter has it (`MongoAdapter.onLocalDelivery`); the in-memory and node:cluster adapters
 * get it from our subclasses in this folder. SSE streams and the presence reaper subscribe here.
 */

/** A Socket.IO packet as the adapter delivers it (socket.io-parser's shape; `data[0]` is the event name). */
export interface DeliveredPacket {
  type: number;
  nsp: string;
  data?: unknown[];
  id?: number;
}

/** Where a packet went: socket.io-adapter's broadcast options. */
export interface DeliveryTarget {
  rooms: Set<string>;
  except?: Set<string>;
  flags?: Record<string, unknown>;
}

export type LocalDeliveryListener = (packet: DeliveredPacket, opts: DeliveryTarget) => void;

export interface LocalDeliveryHook {
  /** Calls `listener` for every broadcast this node delivers to its sockets; returns the unsubscribe function. */
  onLocalDelivery(listener: LocalDeliveryListener): () => void;
}

/** Whether an adapter has the hook (every adapter the gateway builds does; one passed in may not). */
export function hasLocalDeliveryHook(adapter: unknown): adapter is LocalDeliveryHook {
  return typeof (adapter as Partial<LocalDeliveryHook> | null)?.onLocalDelivery === 'function';
}

/** The listeners of one adapter. A throwing listener is reported and never stops delivery to sockets. */
export class LocalDeliveryListeners implements LocalDeliveryHook {
  readonly #listeners = new Set<LocalDeliveryListener>();
  readonly #onError: (error: unknown) => void;

  constructor(
    onError: (error: unknown) => void = (error) =>
      queueMicrotask(() => {
        throw error;
      }),
  ) {
    this.#onError = onError;
  }

  onLocalDelivery(listener: LocalDeliveryListener): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  /** Called by an adapter right after it delivered `packet` to its local sockets. */
  delivered(packet: DeliveredPacket, opts: BroadcastOptions): void {
    for (const listener of this.#listeners) {
      try {
        listener(packet, opts as DeliveryTarget);
      } catch (error) {
        this.#onError(error);
      }
    }
  }
}
