import type { FastifyBaseLogger } from 'fastify';
import type { GatewayMetrics } from '../metrics/registry.js';
import { roomChannel, roomOfChannel } from '../rooms/channel.js';
import { remoteMembers } from './cluster.js';
import type { PresenceRegistry } from './registry.js';
import type { GatewayServer } from '../types.js';

/*
 * A session restored by connection state recovery is back in its rooms without a `room:join`, so
 * nothing would count or announce it. Count it in this node's presence registry (its disconnect
 * uncounts it like any other socket's), and meanwhile the node it left may have sent
 * `presence:leave` for it (its last socket there disconnected). So: when a recovered socket is the
 * user's only socket in a room, tell the others `presence:join` again.
 */
export function announceRecoveredPresence(
  io: GatewayServer,
  presence: PresenceRegistry,
  metrics: GatewayMetrics,
  log: FastifyBaseLogger,
): void {
  io.on('connection', (socket) => {
    if (!socket.recovered) return;
    const user = socket.data.user;
    for (const channel of socket.rooms) {
      const room = roomOfChannel(channel);
      if (room === undefined) continue;
      if (presence.enter(room, user) !== 1) continue;
      remoteMembers(io, room).then(
        (remote) => {
          if (!socket.connected || remote?.some((members) => members.some((member) => member.id === user.id))) return;
          socket.to(roomChannel(room)).emit('presence:join', { room, member: user });
          metrics.eventsOut.inc({ event: 'presence:join' });
        },
        (err: unknown) => log.warn({ err, room, socketId: socket.id }, 'presence after recovery failed'),
      );
    }
  });
}
