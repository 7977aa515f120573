import type { FastifyBaseLogger, FastifyPluginAsync } from 'fastify';
import {
  type ClientEventName,
  compileClientEventValidators,
  type HistoryFetchPayload,
  type HistoryPage,
  type JoinRoomPayload,
  type JoinRoomResult,
  LIMITS,
  type LeaveRoomPayload,
  type Member,
  type SendMessagePayload,
  type SendMessageResult,
  SwitchyardError,
  type TypingPayload,
} from '@switchyard/protocol';
import type { RoomAccess } from '../rooms/access.js';
import type { GatewayConfig } from '../config.js';
import type { GatewayMetrics } from '../metrics/registry.js';
import type { RoomEvents } from '../rooms/room-events.js';
import { roomChannel, roomOfChannel } from '../rooms/channel.js';
import { answerMembersList, clusterPresence, remoteMembers } from '../presence/cluster.js';
import {
  handleInbound,
  type HandlerResult,
  type InboundContext,
  type InboundHandler,
  isClientEvent,
} from './inbound.js';
import type { PresenceRegistry } from '../presence/registry.js';
import { SocketRateLimits } from './rate-limit.js';
import type { MessageStore } from '../store/message-store.js';
import type { GatewayServer, GatewaySocket } from '../types.js';

export interface RoomsPluginOptions {
  io: GatewayServer;
  config: GatewayConfig;
  store: MessageStore;
  metrics: GatewayMetrics;
  /** Every room event goes out through here, so SSE streams on every node see it too. */
  roomEvents: RoomEvents;
  /** Who may join which room (private rooms). */
  roomAccess: RoomAccess;
  /** This node's room members; the plugin keeps it current on join, leave and disconnect. */
  presence: PresenceRegistry;
}

/** At most this many members in a `room:join` ack (`memberCount` says how many there are). */
export const MAX_JOIN_ACK_MEMBERS = 500;

type Handlers = { [E in ClientEventName]: InboundHandler };

/*
 * Chat rooms over Socket.IO: join/leave with presence, send with idempotent retries, typing, history.
 *
 * An idle socket is what a node holds most of, so nothing here is allocated per socket: the
 * listeners and handlers are shared functions that get their socket as `this` (Node's
 * EventEmitter calls listeners that way) or as an argument, the rate-limit bucket is made on a
 * socket's first event, and log context is bound when a line is written.
 */
export const roomsPlugin: FastifyPluginAsync<RoomsPluginOptions> = async (app, options) => {
  const { io, config, metrics, presence } = options;
  metrics.observeRooms(() => presence.roomCount);
  const stopAnswering = answerMembersList(io, presence);
  app.addHook('onClose', async () => stopAnswering());

  const handlers = roomHandlers(options, app.log);
  const ctx: InboundContext = {
    log: app.log,
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
    const rooms = joinedRooms(socket);
    socket.once('disconnect', (reason) => {
      app.log.info({ socketId: socket.id, userId: socket.data.user.id, reason }, 'socket disconnected');
      for (const room of rooms) leaveRoom(options, app.log, room, socket.data.user);
    });
  }

  io.on('connection', (socket) => {
    app.log.info(
      { socketId: socket.id, userId: socket.data.user.id, transport: socket.conn.transport.name },
      'socket connected',
    );
    socket.onAny(onClientEvent);
    socket.on('disconnecting', onDisconnecting);
  });
};

/** The handlers trust their payloads: `handleInbound` validated them against the protocol schemas. */
function roomHandlers(options: RoomsPluginOptions, log: FastifyBaseLogger): Handlers {
  const { io, config, store, roomEvents, roomAccess, presence } = options;
  const requireJoined = (socket: GatewaySocket, room: string): void => {
    if (!socket.rooms.has(roomChannel(room))) throw new SwitchyardError('NOT_IN_ROOM');
  };

  return {
    'room:join': async (socket: GatewaySocket, { room }: JoinRoomPayload): Promise<JoinRoomResult> => {
      const user = socket.data.user;
      const channel = roomChannel(room);
      const rejoin = socket.rooms.has(channel);
      if (!roomAccess(user, room)) throw new SwitchyardError('FORBIDDEN', 'This room is private to another user');
      if (!rejoin && joinedRooms(socket).length >= config.maxRoomsPerSocket)
        throw new SwitchyardError('TOO_MANY_ROOMS');
      // Joined and counted before any await, so a socket that disconnects meanwhile is never left
      // in a room, and its 'disconnecting' (which sees the room) uncounts it.
      let first = false;
      if (!rejoin) {
        const joined = socket.join(channel);
        first = presence.enter(room, user) === 1;
        await joined;
      }
      const [members, messages] = await Promise.all([
        clusterPresence(io, presence, room, MAX_JOIN_ACK_MEMBERS),
        store.latest(room, LIMITS.historyPage.default),
      ]);
      if (first && !members.elsewhere(user.id)) {
        roomEvents.emit(room, 'presence:join', { room, member: user }, { exceptSocket: socket.id });
      }
      return { room, members: members.members, memberCount: members.memberCount, messages };
    },

    'room:leave': async (socket: GatewaySocket, { room }: LeaveRoomPayload): Promise<{ room: string }> => {
      requireJoined(socket, room);
      const left = socket.leave(roomChannel(room));
      const announced = leaveRoom(options, log, room, socket.data.user);
      await left;
      await announced;
      return { room };
    },

    'message:send': async (
      socket: GatewaySocket,
      { room, text, clientMessageId }: SendMessagePayload,
    ): Promise<SendMessageResult> => {
      requireJoined(socket, room);
      const { message, created } = await store.append({ room, text, author: socket.data.user, clientMessageId });
      // A retry is answered with the stored message but not broadcast again.
      if (created) roomEvents.emit(room, 'message:new', message);
      return { message };
    },

    typing: async (socket: GatewaySocket, { room }: TypingPayload): Promise<HandlerResult> => {
      requireJoined(socket, room);
      roomEvents.emit(room, 'typing', { room, member: socket.data.user }, { exceptSocket: socket.id });
      return {};
    },

    'history:fetch': async (
      socket: GatewaySocket,
      { room, before, limit }: HistoryFetchPayload,
    ): Promise<HistoryPage> => {
      requireJoined(socket, room);
      const page = await store.before(room, before, limit ?? LIMITS.historyPage.default);
      return { room, messages: page.messages, hasMore: page.hasMore };
    },
  };
}

/**
 * Uncounts one socket of `user` in `room` (synchronously) and announces `presence:leave` when it
 * was the user's last socket in the room, on this node and (asked only when there are other
 * nodes) on every other. Never rejects: a failed check is logged.
 */
async function leaveRoom(
  { io, roomEvents, presence }: RoomsPluginOptions,
  log: FastifyBaseLogger,
  room: string,
  user: Member,
): Promise<void> {
  if (presence.exit(room, user.id) > 0) return;
  try {
    const remote = await remoteMembers(io, room);
    if (remote?.some((members) => members.some((member) => member.id === user.id))) return;
    // The user may have come back on this node while other nodes were asked.
    if (presence.socketsOf(room, user.id) > 0) return;
    roomEvents.emit(room, 'presence:leave', { room, member: user });
  } catch (err) {
    log.warn({ err, room, userId: user.id }, 'presence update failed');
  }
}

function joinedRooms(socket: GatewaySocket): string[] {
  const rooms: string[] = [];
  for (const channel of socket.rooms) {
    const room = roomOfChannel(channel);
    if (room !== undefined) rooms.push(room);
  }
  return rooms;
}
