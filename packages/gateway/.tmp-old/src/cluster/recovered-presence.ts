import type { FastifyBaseLogger } from 'fastify';
import type { GatewayMetrics } from '../metrics.js';
import { roomChannel, roomOfChannel } from '../rooms/channel.js';
import { roomPresence } from '../rooms/presence.js';
import type { GatewayServer } from '../types.js';

/*
 * A session restored by connection state recovery is back in its rooms without a `room:join`, so
 * nothing would announce it. Meanwhile the node it left may have sent `presence:leave` for it (its
 * last socket there disconnected). So: when a recovered socket is the user's only socket in a
 * room, tell the others `presence:join` again.
 */
export function announceRecoveredPresence(io: GatewayServer, metrics: GatewayMetrics, log: FastifyBaseLogger): void {
  io.on('connection', (socket) => {
    if (!socket.recovered) return;
    const user = socket.data.user;
    for (const channel of socket.rooms) {
      const room = roomOfChannel(channel);
      if (room === undefined) continue;
      roomPresence(io, room).then(
        (presence) => {
          if (!socket.connected || presence.socketsOf(user.id) !== 1) return;
          socket.to(roomChannel(room)).emit('presence:join', { room, member: user });
          metrics.eventsOut.inc({ event: 'presence:join' });
        },
        (err: unknown) => log.warn({ err, room, socketId: socket.id }, 'presence after recovery failed'),
      );
    }
  });
}
