import type { FastifyPluginAsync } from 'fastify';
import type { Logger } from 'pino';
import { type ClientEventName, type ClientToServerEvents, compileClientEventValidators } from '@switchyard/protocol';
import type { GatewayConfig } from '../config.js';
import type { GatewayMetrics } from '../metrics/registry.js';
import { chatRoomsOf } from '../rooms/channel.js';
import type { RoomService } from '../rooms/service.js';
import type { GatewaySocket, GatewayServer } from '../types.js';
import { handleInbound, type HandlerResult, type InboundContext, isClientEvent } from './inbound.js';
import { boundOutgoingQueues } from './outgoing-bounds.js';
import { SocketRateLimits } from './rate-limit.js';

/*
 * The Socket.IO transport: each client event becomes one call of the room service, and its result
 * or typed error becomes the ack (see inbound.ts for the checks every event goes through first).
 *
 * An idle socket is what a node holds most of, so nothing here is allocated per socket: the
 * listeners and handlers are shared functions that get their socket as `this` (Node's
 * EventEmitter calls listeners that way) or as an argument, the rate-limit bucket is made on a
 * socket's first event, and log context is bound when a line is written.
 */

export interface SocketPluginOptions {
  io: GatewayServer;
  rooms: RoomService;
  config: GatewayConfig;
  metrics: GatewayMetrics;
  log: Logger;
}

type Handlers = {
  [E in ClientEventName]: (
    socket: GatewaySocket,
    payload: Parameters<ClientToServerEvents[E]>[0],
  ) => Promise<HandlerResult>;
};

/** The handlers trust their payloads: `handleInbound` validated them against the protocol's schemas. */
function handlersFor(rooms: RoomService): Handlers {
  return {
    'room:join': (socket, { room }) => rooms.join(socket, room),
    'room:leave': (socket, { room }) => rooms.leave(socket, room),
    'message:send': async (socket, { room, text, clientMessageId }) => {
      const { message } = await rooms.post({ kind: 'socket', socket }, { room, text, clientMessageId });
      return { message };
    },
    typing: async (socket, { room }) => {
      rooms.typing(socket, room);
      return {};
    },
    'history:fetch': (socket, { room, before, limit }) => rooms.history(socket, room, { before, limit }),
    'members:list': async (socket, { room, cursor, limit }) => rooms.members(socket, room, { cursor, limit }),
  };
}

export const socketPlugin: FastifyPluginAsync<SocketPluginOptions> = async (
  app,
  { io, rooms, config, metrics, log },
) => {
  const bounds = boundOutgoingQueues({
    io,
    maxBytes: config.socketBuffer.bytes,
    maxPackets: config.socketBuffer.packets,
    metrics,
    log,
  });
  app.addHook('onClose', async () => bounds.close());
  const handlers = handlersFor(rooms);
  const ctx: InboundContext = {
    log,
    metrics,
    rateLimits: new SocketRateLimits(config.rateLimit),
    validators: compileClientEventValidators({ maxMessageLength: config.maxMessageLength }),
  };

  function onClientEvent(this: GatewaySocket, event: unknown, ...args: unknown[]): void {
    const name = String(event);
    void handleInbound(ctx, this, name, args, isClientEvent(name) ? handlers[name] : undefined);
  }

  function onDisconnecting(this: GatewaySocket): void {
    // Rooms are gone by the time 'disconnect' fires: take them while they are still there.
    const socket = this;
    const left = chatRoomsOf(socket.rooms);
    socket.once('disconnect', (reason) => {
      log.info({ socketId: socket.id, userId: socket.data.user.id, reason }, 'socket disconnected');
      rooms.disconnected(socket.data.user, left);
    });
  }

  io.on('connection', (socket) => {
    log.info(
      { socketId: socket.id, userId: socket.data.user.id, transport: socket.conn.transport.name },
      'socket connected',
    );
    socket.onAny(onClientEvent);
    socket.on('disconnecting', onDisconnecting);
  });
};
