import type { FastifyBaseLogger } from 'fastify';
import { isValidRoomName, ROOM_EVENTS, type RoomEventName, type RoomEventPayload } from '@switchyard/protocol';
import type { GatewayMetrics } from '../metrics/registry.js';
import { roomChannel } from './channel.js';
import type { GatewayServer } from '../types.js';

/*
 * Room events (`message:new`, `presence:join`, `presence:leave`, `typing`) in both directions.
 *
 * Out: `emit` is the one function the gateway emits a room event with, whoever causes it (a
 * socket, the HTTP API): the Socket.IO broadcast to the room's channel, volatile for typing.
 *
 * In: `listen` hands every room event that reaches this node's sockets to SSE streams — at the
 * very point where the adapter delivers a broadcast to the local sockets (the in-memory
 * adapter's `broadcast`, which every adapter ends in for local delivery, after its own ordering:
 * the MongoDB adapter's change-stream order, its wait for a broadcast's own echo). So SSE
 * streams see exactly what this node's sockets see, in the same order, from every source:
 * this node, the other nodes, the MongoDB emitter, a presence reaper. A relay of its own
 * (`serverSideEmit`) would skip the adapter's local ordering and let a node's own events
 * overtake remote ones on its SSE streams.
 */

export type RoomEventListener = <E extends RoomEventName>(room: string, event: E, payload: RoomEventPayload<E>) => void;

export interface RoomEventOptions {
  /** A socket id left out of the Socket.IO broadcast (presence of the joiner, typing of the typer). SSE streams still get it. */
  exceptSocket?: string;
  /** This node's clients only: for events every node derives on its own (members lost with an evicted node). */
  localOnly?: boolean;
}

export interface RoomEvents {
  emit<E extends RoomEventName>(room: string, event: E, payload: RoomEventPayload<E>, options?: RoomEventOptions): void;
  /** Every room event as this node's sockets get it; returns the unsubscribe function. */
  listen(listener: RoomEventListener): () => void;
}

export interface RoomEventsOptions {
  io: GatewayServer;
  metrics: GatewayMetrics;
  log: FastifyBaseLogger;
}

const KNOWN_EVENTS = new Set<string>(ROOM_EVENTS);
/** socket.io-parser's EVENT packet type. */
const EVENT_PACKET = 2;

/** Loose shape of a broadcast operator: the typed one cannot take a generic event name. */
interface Broadcast {
  volatile: Broadcast;
  except(socketId: string): Broadcast;
  emit(event: string, payload: unknown): boolean;
}

interface EventPacket {
  type: number;
  data?: unknown[];
  id?: number;
}

/** The in-memory adapter's `broadcast` encodes each packet once, through this instance method. */
interface EncodingAdapter {
  _encode?: (this: unknown, packet: EventPacket, packetOpts: unknown) => unknown;
}

export function createRoomEvents({ io, metrics, log }: RoomEventsOptions): RoomEvents {
  const listeners = new Set<RoomEventListener>();

  tapLocalBroadcasts(io, (packet) => {
    const [event, payload] = packet.data ?? [];
    if (
      packet.type !== EVENT_PACKET ||
      packet.id !== undefined ||
      typeof event !== 'string' ||
      !KNOWN_EVENTS.has(event)
    )
      return;
    // Every room event names its room; that is the room it was broadcast to.
    const room = (payload as { room?: unknown } | null)?.room;
    if (!isValidRoomName(room)) return;
    for (const listener of listeners) {
      try {
        listener(room, event as RoomEventName, payload as RoomEventPayload);
      } catch (err) {
        log.error({ err, room, event }, 'room event listener failed');
      }
    }
  });

  return {
    emit(room, event, payload, options = {}) {
      let operator = (options.localOnly === true
        ? io.local.to(roomChannel(room))
        : io.to(roomChannel(room))) as unknown as Broadcast;
      if (options.exceptSocket !== undefined) operator = operator.except(options.exceptSocket);
      // Typing is a hint: dropping it for a client whose transport is busy is fine.
      if (event === 'typing') operator = operator.volatile;
      operator.emit(event, payload);
      metrics.eventsOut.inc({ event });
    },
    listen(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/**
 * Sees every packet the adapter of the main namespace delivers to this node's sockets, once per
 * broadcast (whether or not a local socket is in the room). socket.io-adapter 2.5's
 * `Adapter.prototype.broadcast` calls `this._encode(packet, opts)` once before writing to the
 * sockets; cluster adapters (`@socket.io/cluster-adapter`, ours for MongoDB) deliver both local
 * and remote broadcasts through it. Checked at start-up, so an adapter without it fails loudly.
 */
function tapLocalBroadcasts(io: GatewayServer, onPacket: (packet: EventPacket) => void): void {
  const adapter = io.of('/').adapter as unknown as EncodingAdapter;
  const encode = adapter._encode;
  if (typeof encode !== 'function') {
    throw new TypeError(
      'The Socket.IO adapter has no _encode (socket.io-adapter 2.5 expected): SSE streams could not see room broadcasts',
    );
  }
  adapter._encode = function encodeAndObserve(this: unknown, packet, packetOpts) {
    const encoded = encode.call(this, packet, packetOpts);
    onPacket(packet);
    return encoded;
  };
}
