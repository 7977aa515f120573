import type { BroadcastOptions } from 'socket.io-adapter';

/** A broadcast as this node delivers it to its local sockets. */
export interface DeliveredPacket {
  type: number;
  nsp: string;
  /** The arguments as emitted (event name first); the recovery offset socket.io appends for clients is not included. */
  data?: unknown[];
  id?: number;
}

export type LocalDeliveryListener = (packet: DeliveredPacket, opts: BroadcastOptions) => void;

/**
 * Listeners of one namespace adapter's local deliveries (`MongoAdapter.onLocalDelivery`). A throwing
 * listener is reported and skipped: it never breaks delivery to the sockets or to the other listeners.
 */
export class LocalDeliveryHook {
  private listeners: LocalDeliveryListener[] = [];

  constructor(private readonly onListenerError: (error: unknown) => void) {}

  get active(): boolean {
    return this.listeners.length > 0;
  }

  add(listener: LocalDeliveryListener): () => void {
    this.listeners = [...this.listeners, listener];
    let subscribed = true;
    return () => {
      if (!subscribed) return;
      subscribed = false;
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  /** Called right before the packet is written to the matching local sockets (none may match). */
  notify(packet: DeliveredPacket, opts: BroadcastOptions): void {
    if (this.listeners.length === 0) return;
    // A copy: the adapter appends the recovery offset to `data` afterwards, and listeners may keep the packet.
    const delivered: DeliveredPacket = { type: packet.type, nsp: packet.nsp };
    if (packet.data !== undefined) delivered.data = packet.data.slice();
    if (packet.id !== undefined) delivered.id = packet.id;
    const options: BroadcastOptions = {
      rooms: new Set(opts.rooms),
      except: new Set(opts.except ?? []),
      flags: { ...opts.flags },
    };
    // The array is replaced, never mutated: a listener that unsubscribes during the call does not skip another.
    for (const listener of this.listeners) {
      try {
        listener(delivered, options);
      } catch (error) {
        this.onListenerError(error);
      }
    }
  }
}
