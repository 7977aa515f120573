import type { FastifyBaseLogger } from 'fastify';
import { Adapter } from 'socket.io-adapter';
import { isValidRoomName, ROOM_EVENTS, type RoomEventName, type RoomEventPayload } from '@switchyard/protocol';
import type { GatewayMetrics } from './metrics.js';
import { roomChannel } from './rooms/channel.js';
import type { GatewayServer } from './types.js';

/*
 * The one path of every room event (`message:new`, `presence:join`, `presence:leave`, `typing`),
 * whoever causes it (a socket, the HTTP API): the Socket.IO broadcast to the room, then this
 * node's listeners (SSE streams), then a relay to the other nodes' listeners with
 * `serverSideEmit('room:event', …)`. The relay goes through the same adapter right after the
 * broadcast: the MongoDB adapter writes both to one ordered outbox, so SSE subscribers on every
 * node see a room's events in the order its sockets do. With the in-memory adapter there is
 * no other node, and nothing is relayed.
 */

export type RoomEventListener = <E extends RoomEventName>(room: string, event: E, payload: RoomEventPayload<E>) => void;

export interface RoomEventOptions {
  /** A socket id left out of the Socket.IO broadcast (presence of the joiner, typing of the typer). */
  exceptSocket?: string;
}

export interface RoomEvents {
  emit<E extends RoomEventName>(room: string, event: E, payload: RoomEventPayload<E>, options?: RoomEventOptions): void;
  /** Every room event of the cluster as it reaches this node; returns the unsubscribe function. */
  listen(listener: RoomEventListener): () => void;
}

export interface RoomEventsOptions {
  io: GatewayServer;
  metrics: GatewayMetrics;
  log: FastifyBaseLogger;
}

const KNOWN_EVENTS = new Set<string>(ROOM_EVENTS);

/** Loose shape of a broadcast operator: the typed one cannot take a generic event name. */
interface Broadcast {
  volatile: Broadcast;
  except(socketId: string): Broadcast;
  emit(event: string, payload: unknown): boolean;
}

export function createRoomEvents({ io, metrics, log }: RoomEventsOptions): RoomEvents {
  const listeners = new Set<RoomEventListener>();

  const deliverLocally = <E extends RoomEventName>(room: string, event: E, payload: RoomEventPayload<E>): void => {
    for (const listener of listeners) {
      try {
        listener(room, event, payload);
      } catch (err) {
        log.error({ err, room, event }, 'room event listener failed');
      }
    }
  };

  // Relays from other nodes. Nodes trust each other, but a malformed relay must not reach clients.
  io.on('room:event', (room, event, payload) => {
    if (!isValidRoomName(room) || !KNOWN_EVENTS.has(event) || payload === null || typeof payload !== 'object') {
      log.warn({ event: String(event).slice(0, 64) }, 'malformed room event relay dropped');
      return;
    }
    deliverLocally(room, event, payload);
  });

  return {
    emit(room, event, payload, options = {}) {
      let operator = io.to(roomChannel(room)) as unknown as Broadcast;
      if (options.exceptSocket !== undefined) operator = operator.except(options.exceptSocket);
      // Typing is a hint: dropping it for a client whose transport is busy is fine.
      if (event === 'typing') operator = operator.volatile;
      operator.emit(event, payload);
      metrics.eventsOut.inc({ event });
      deliverLocally(room, event, payload);
      if (relaysToOtherNodes(io)) {
        try {
          io.serverSideEmit('room:event', room, event, payload);
        } catch (err) {
          log.error({ err, room, event }, 'room event relay failed');
        }
      }
    },
    listen(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/** The in-memory adapter has no other node (its `serverSideEmit` only prints a warning). */
function relaysToOtherNodes(io: GatewayServer): boolean {
  return io.of('/').adapter.serverSideEmit !== Adapter.prototype.serverSideEmit;
}
