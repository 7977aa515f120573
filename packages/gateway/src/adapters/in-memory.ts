import { Adapter, type BroadcastOptions, SessionAwareAdapter } from 'socket.io-adapter';
import {
  type DeliveredPacket,
  type LocalDeliveryHook,
  type LocalDeliveryListener,
  LocalDeliveryListeners,
} from './local-delivery.js';

/*
 * socket.io's in-memory adapters with the "delivered locally" hook: a broadcast is delivered by the
 * base class's public `broadcast`, synchronously, and then reported. SessionAwareAdapter is what
 * socket.io itself picks when connection state recovery is on (it numbers packets for replay).
 * Two small classes rather than one mixin: declarations cannot name a class expression built on
 * socket.io-adapter's classes, which have private members.
 */

export class ObservedInMemoryAdapter extends Adapter implements LocalDeliveryHook {
  readonly #deliveries = new LocalDeliveryListeners();

  onLocalDelivery(listener: LocalDeliveryListener): () => void {
    return this.#deliveries.onLocalDelivery(listener);
  }

  override broadcast(packet: DeliveredPacket, opts: BroadcastOptions): void {
    super.broadcast(packet, opts);
    this.#deliveries.delivered(packet, opts);
  }
}

export class ObservedSessionAwareAdapter extends SessionAwareAdapter implements LocalDeliveryHook {
  readonly #deliveries = new LocalDeliveryListeners();

  onLocalDelivery(listener: LocalDeliveryListener): () => void {
    return this.#deliveries.onLocalDelivery(listener);
  }

  override broadcast(packet: DeliveredPacket, opts: BroadcastOptions): void {
    super.broadcast(packet, opts);
    this.#deliveries.delivered(packet, opts);
  }
}
