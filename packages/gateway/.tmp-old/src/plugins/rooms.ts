import type { FastifyPluginAsync } from 'fastify';
import { TokenBucket } from 'limiter';
import {
  CLIENT_EVENTS,
  type ClientEventName,
  type HistoryFetchPayload,
  type HistoryPage,
  type JoinRoomPayload,
  type JoinRoomResult,
  LIMITS,
  type LeaveRoomPayload,
  type SendMessagePayload,
  type SendMessageResult,
  SwitchyardError,
  type TypingPayload,
} from '@switchyard/protocol';
import type { RoomAccess } from '../auth/room-access.js';
import type { GatewayConfig } from '../config.js';
import type { GatewayMetrics } from '../metrics.js';
import type { RoomEvents } from '../room-events.js';
import { roomChannel, roomOfChannel } from '../rooms/channel.js';
import { handleInbound, type HandlerResult, type InboundContext, isClientEvent } from '../rooms/inbound.js';
import { roomPresence } from '../rooms/presence.js';
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
}

type Handlers = { [E in ClientEventName]: (payload: never) => Promise<HandlerResult> };

/** Chat rooms over Socket.IO: join/leave with presence, send with idempotent retries, typing, history. */
export const roomsPlugin: FastifyPluginAsync<RoomsPluginOptions> = async (app, { io, config, store, metrics, roomEvents, roomAccess }) => {
  metrics.observeRooms(() => {
    let rooms = 0;
    for (const channel of io.of('/').adapter.rooms.keys()) if (roomOfChannel(channel) !== undefined) rooms += 1;
    return rooms;
  });

  io.on('connection', (socket) => {
    const user = socket.data.user;
    const log = app.log.child({ socketId: socket.id, userId: user.id });
    const bucket = new TokenBucket({ bucketSize: config.rateLimit.burst, tokensPerInterval: config.rateLimit.perSecond, interval: 'second' });
    bucket.content = config.rateLimit.burst; // limiter starts buckets empty; a new socket gets its full burst.
    const handlers = roomHandlers({ io, socket, config, store, metrics, roomEvents, roomAccess });
    log.info({ transport: socket.conn.transport.name }, 'socket connected');

    for (const event of CLIENT_EVENTS) {
      const ctx: InboundContext = { socket, log: log.child({ event }), metrics, bucket };
      onInbound(socket, event, (...args) => void handleInbound(ctx, event, args, handlers[event]));
    }
    const unknownCtx: InboundContext = { socket, log, metrics, bucket };
    socket.onAny((event: unknown, ...args: unknown[]) => {
      if (typeof event !== 'string' || !isClientEvent(event)) void handleInbound(unknownCtx, String(event), args);
    });

    // Rooms are gone by the time 'disconnect' fires: remember them while they are still there.
    let roomsAtDisconnect: string[] = [];
    socket.on('disconnecting', () => {
      roomsAtDisconnect = joinedRooms(socket);
    });
    socket.on('disconnect', (reason) => {
      log.info({ reason }, 'socket disconnected');
      for (const room of roomsAtDisconnect) {
        announceLeaveIfLast(io, roomEvents, room, user).catch((err: unknown) => log.warn({ err, room }, 'presence update failed'));
      }
    });
  });
};

/** The handlers trust their payloads: `handleInbound` validated them against the protocol schemas. */
function roomHandlers({ io, socket, config, store, roomEvents, roomAccess }: Omit<RoomsPluginOptions, 'app'> & { socket: GatewaySocket }): Handlers {
  const user = socket.data.user;
  const requireJoined = (room: string): void => {
    if (!socket.rooms.has(roomChannel(room))) throw new SwitchyardError('NOT_IN_ROOM');
  };

  return {
    'room:join': async ({ room }: JoinRoomPayload): Promise<JoinRoomResult> => {
      const channel = roomChannel(room);
      const rejoin = socket.rooms.has(channel);
      if (!roomAccess(user, room)) throw new SwitchyardError('FORBIDDEN', 'This room is private to another user');
      if (!rejoin && joinedRooms(socket).length >= config.maxRoomsPerSocket) throw new SwitchyardError('TOO_MANY_ROOMS');
      // Joined before any await, so a socket that disconnects meanwhile is never left in a room.
      if (!rejoin) await socket.join(channel);
      const [presence, messages] = await Promise.all([roomPresence(io, room), store.latest(room, LIMITS.historyPage.default)]);
      if (!rejoin && presence.socketsOf(user.id) === 1) {
        roomEvents.emit(room, 'presence:join', { room, member: user }, { exceptSocket: socket.id });
      }
      return { room, members: presence.members, messages };
    },

    'room:leave': async ({ room }: LeaveRoomPayload): Promise<{ room: string }> => {
      requireJoined(room);
      await socket.leave(roomChannel(room));
      await announceLeaveIfLast(io, roomEvents, room, user);
      return { room };
    },

    'message:send': async ({ room, text, clientMessageId }: SendMessagePayload): Promise<SendMessageResult> => {
      requireJoined(room);
      if (text.length > config.maxMessageLength) {
        throw new SwitchyardError('MESSAGE_TOO_LONG', `The message text is longer than ${config.maxMessageLength} characters`);
      }
      const { message, created } = await store.append({ room, text, author: user, clientMessageId });
      // A retry is answered with the stored message but not broadcast again.
      if (created) roomEvents.emit(room, 'message:new', message);
      return { message };
    },

    typing: async ({ room }: TypingPayload): Promise<HandlerResult> => {
      requireJoined(room);
      roomEvents.emit(room, 'typing', { room, member: user }, { exceptSocket: socket.id });
      return {};
    },

    'history:fetch': async ({ room, before, limit }: HistoryFetchPayload): Promise<HistoryPage> => {
      requireJoined(room);
      const page = await store.before(room, before, limit ?? LIMITS.historyPage.default);
      return { room, messages: page.messages, hasMore: page.hasMore };
    },
  };
}

async function announceLeaveIfLast(io: GatewayServer, roomEvents: RoomEvents, room: string, user: GatewaySocket['data']['user']): Promise<void> {
  const presence = await roomPresence(io, room);
  if (presence.socketsOf(user.id) > 0) return;
  roomEvents.emit(room, 'presence:leave', { room, member: user });
}

function joinedRooms(socket: GatewaySocket): string[] {
  const rooms: string[] = [];
  for (const channel of socket.rooms) {
    const room = roomOfChannel(channel);
    if (room !== undefined) rooms.push(room);
  }
  return rooms;
}

/** The one untyped boundary: listeners receive raw arguments, which `handleInbound` validates. */
function onInbound(socket: GatewaySocket, event: ClientEventName, listener: (...args: unknown[]) => void): void {
  (socket as unknown as { on(event: string, listener: (...args: unknown[]) => void): void }).on(event, listener);
}
