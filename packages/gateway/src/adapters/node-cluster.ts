import { NodeClusterAdapter } from '@socket.io/cluster-adapter';
import { type BroadcastOptions, type ClusterAdapterOptions, type ClusterMessage, MessageType } from 'socket.io-adapter';
import {
  type DeliveredPacket,
  type LocalDeliveryHook,
  type LocalDeliveryListener,
  LocalDeliveryListeners,
} from './local-delivery.js';
import type { NodeLeft, NodeLeftHook, NodeLeftListener } from './node-left.js';

/*
 * @socket.io/cluster-adapter (GATEWAY_WORKERS without MongoDB) with the gateway's two hooks, through
 * its public and protected extension points only:
 * - "delivered locally": a broadcast of this worker is delivered by `broadcast` (after its publish),
 *   one of another worker by `onMessage` (a BROADCAST without ack); each is reported right after.
 * - "node left": every message names its sender, so the workers this one hears from are tracked
 *   here, like the base class does for `serverCount()`: one that announces its close (ADAPTER_CLOSE)
 *   or stays silent for `heartbeatTimeout` has left.
 */

/** socket.io-adapter's defaults, which the base class applies to the same options. */
const DEFAULT_HEARTBEAT_TIMEOUT_MS = 10_000;
const SWEEP_MS = 1000;
/** Emitters publish under this uid and never heartbeat (socket.io-adapter's convention). */
const EMITTER_UID = 'emitter';

type Namespace = ConstructorParameters<typeof NodeClusterAdapter>[0];

export class ObservedNodeClusterAdapter extends NodeClusterAdapter implements LocalDeliveryHook, NodeLeftHook {
  readonly #deliveries = new LocalDeliveryListeners();
  readonly #nodeLeft = new Set<NodeLeftListener>();
  /** uid → when it was last heard from. */
  readonly #lastSeen = new Map<string, number>();
  readonly #heartbeatTimeoutMs: number;
  readonly #sweep: NodeJS.Timeout;

  constructor(nsp: Namespace, opts: ClusterAdapterOptions = {}) {
    super(nsp, opts);
    this.#heartbeatTimeoutMs = opts.heartbeatTimeout ?? DEFAULT_HEARTBEAT_TIMEOUT_MS;
    this.#sweep = setInterval(() => this.#sweepSilent(), SWEEP_MS);
    this.#sweep.unref();
  }

  onLocalDelivery(listener: LocalDeliveryListener): () => void {
    return this.#deliveries.onLocalDelivery(listener);
  }

  onNodeLeft(listener: NodeLeftListener): () => void {
    this.#nodeLeft.add(listener);
    return () => void this.#nodeLeft.delete(listener);
  }

  override async broadcast(packet: DeliveredPacket, opts: BroadcastOptions): Promise<void> {
    await super.broadcast(packet, opts);
    this.#deliveries.delivered(packet, opts);
  }

  override onMessage(message: ClusterMessage, offset?: string): void {
    super.onMessage(message, offset);
    if (message.uid === this.uid || message.uid === EMITTER_UID || message.nsp !== this.nsp.name) return;
    if (message.type === MessageType.ADAPTER_CLOSE) {
      this.#left(message.uid, 'closed');
      return;
    }
    this.#lastSeen.set(message.uid, Date.now());
    if (message.type === MessageType.BROADCAST && message.data.requestId === undefined) {
      const { rooms, except, flags } = message.data.opts;
      this.#deliveries.delivered(message.data.packet as DeliveredPacket, {
        rooms: new Set(rooms),
        except: new Set(except),
        flags,
      });
    }
  }

  override close(): void {
    clearInterval(this.#sweep);
    super.close();
  }

  #sweepSilent(): void {
    const now = Date.now();
    for (const [uid, lastSeen] of this.#lastSeen)
      if (now - lastSeen > this.#heartbeatTimeoutMs) this.#left(uid, 'timeout');
  }

  #left(uid: string, reason: NodeLeft['reason']): void {
    if (!this.#lastSeen.delete(uid)) return;
    for (const listener of this.#nodeLeft) listener({ uid, reason });
  }
}

/** `new Server({ adapter: createObservedClusterAdapter() })` in a node:cluster worker. */
export function createObservedClusterAdapter(opts: ClusterAdapterOptions = {}): typeof ObservedNodeClusterAdapter {
  // socket.io constructs the adapter of each namespace with `new`.
  return class extends ObservedNodeClusterAdapter {
    constructor(nsp: Namespace) {
      super(nsp, opts);
    }
  };
}
