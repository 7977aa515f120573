import type { Logger } from 'pino';
import { isValidRoomName, ROOM_EVENTS, type RoomEventName, type RoomEventPayload } from '@switchyard/protocol';
import type { LocalDeliveryHook } from '../adapters/local-delivery.js';
import type { GatewayMetrics } from '../metrics/registry.js';
import type { GatewayServer } from '../types.js';
import { roomChannel } from './channel.js';

/*
 * Room events (`message:new`, `presence:diff`, `presence:count`, `typing`) in both directions.
 *
 * Out: `emit` is the one function the gateway emits a room event with, whoever causes it (the room
 * service, presence): the Socket.IO broadcast to the room's channel, volatile for typing.
 *
 * In: `listen` hands on every room event this node delivers to its sockets, through the adapter's
 * "delivered locally" hook: after the adapter's own ordering (the MongoDB adapter's per-sender
 * order), from every source (this node, the other nodes, the MongoDB emitter, a presence reaper),
 * whether or not a local socket is in the room. So SSE streams
 * see exactly what this node's sockets see, in the same order. A relay of its own (`serverSideEmit`)
 * would skip the adapter's ordering and let a node's own events overtake remote ones.
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
  /** The main namespace adapter's hook. */
  deliveries: LocalDeliveryHook;
  metrics: GatewayMetrics;
  log: Logger;
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

export function createRoomEvents({ io, deliveries, metrics, log }: RoomEventsOptions): RoomEvents {
  const listeners = new Set<RoomEventListener>();
  const tracing = log.isLevelEnabled('debug');

  deliveries.onLocalDelivery((packet) => {
    if (listeners.size === 0 || packet.type !== EVENT_PACKET || packet.id !== undefined) return;
    const [event, payload] = packet.data ?? [];
    if (typeof event !== 'string' || !KNOWN_EVENTS.has(event)) return;
    // Every room event names its room; that is the room it was broadcast to.
    const room = (payload as { room?: unknown } | null)?.room;
    if (!isValidRoomName(room)) return;
    if (tracing) log.debug({ room, event }, 'room event delivered here');
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
      if (tracing) log.debug({ room, event }, 'room event emitted');
      operator.emit(event, payload);
      metrics.eventsOut.inc({ event });
    },
    listen(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
  };
}
