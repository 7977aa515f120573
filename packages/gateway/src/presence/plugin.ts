import type { FastifyPluginAsync } from 'fastify';
import type { Logger } from 'pino';
import { Gauge } from 'prom-client';
import type { NodeLeftHook } from '../adapters/node-left.js';
import { METRIC_NAMES, type GatewayMetrics } from '../metrics/registry.js';
import { chatRoomsOf } from '../rooms/channel.js';
import type { RoomEvents } from '../rooms/room-events.js';
import type { GatewayServer } from '../types.js';
import { answerMembersList } from './cluster.js';
import type { Presence } from './presence.js';
import { reapPresenceOfEvictedNodes } from './reaper.js';

export interface PresencePluginOptions {
  io: GatewayServer;
  presence: Presence;
  roomEvents: RoomEvents;
  /** The adapter's "node left" hook; undefined on a single node. */
  nodes: NodeLeftHook | undefined;
  /** Sessions come back by connection state recovery (they rejoin their rooms without `room:join`). */
  recovery: boolean;
  metrics: GatewayMetrics;
  log: Logger;
}

/**
 * Presence beyond one socket's join and leave (which the room service handles): this node answers
 * the others' `members:list`, counts recovered sessions, and, with other nodes, announces the
 * members lost with a node that died.
 */
export const presencePlugin: FastifyPluginAsync<PresencePluginOptions> = async (app, options) => {
  const { io, presence, metrics } = options;
  new Gauge({
    name: METRIC_NAMES.rooms,
    help: 'Chat rooms with at least one socket on this node',
    registers: [metrics.registry],
    collect() {
      this.set(presence.registry.roomCount);
    },
  });

  const stopAnswering = answerMembersList(io, presence.registry);
  app.addHook('onClose', async () => stopAnswering());

  if (options.recovery) {
    io.on('connection', (socket) => {
      if (socket.recovered)
        presence.recovered(socket.id, socket.data.user, chatRoomsOf(socket.rooms), () => socket.connected);
    });
  }

  if (options.nodes !== undefined) {
    const reaper = reapPresenceOfEvictedNodes({
      io,
      presence,
      roomEvents: options.roomEvents,
      nodes: options.nodes,
      log: options.log,
    });
    app.addHook('onClose', async () => reaper.close());
  }
};
