import type { FastifyPluginAsync } from 'fastify';
import type { Logger } from 'pino';
import { Gauge } from 'prom-client';
import type { NodeLeftHook } from '../adapters/node-left.js';
import { METRIC_NAMES, type GatewayMetrics } from '../metrics/registry.js';
import { chatRoomsOf } from '../rooms/channel.js';
import type { GatewayServer, GatewaySocket } from '../types.js';
import { linkPresenceCluster } from './cluster.js';
import type { Presence } from './presence.js';

export interface PresencePluginOptions {
  io: GatewayServer;
  presence: Presence;
  /** The adapter's "node left" hook; undefined on a single node. */
  nodes: NodeLeftHook | undefined;
  /** Sessions come back by connection state recovery (they rejoin their rooms without `room:join`). */
  recovery: boolean;
  metrics: GatewayMetrics;
  log: Logger;
}

/**
 * Presence beyond one socket's join and leave (which the room service handles): with other nodes,
 * the presence shares between them (cluster.ts); restored sessions counted and told where their
 * rooms stand; gauges; and the interval stopped on close.
 */
export const presencePlugin: FastifyPluginAsync<PresencePluginOptions> = async (app, options) => {
  const { io, presence, metrics } = options;
  new Gauge({
    name: METRIC_NAMES.rooms,
    help: 'Chat rooms this node knows: with a socket or an SSE stream on it',
    registers: [metrics.registry],
    collect() {
      this.set(presence.roomCount);
    },
  });
  new Gauge({
    name: METRIC_NAMES.largeRooms,
    help: 'Chat rooms in large mode (counts instead of member lists) on this node',
    registers: [metrics.registry],
    collect() {
      this.set(presence.largeRoomCount);
    },
  });

  if (options.nodes !== undefined) {
    const cluster = linkPresenceCluster({ io, presence, nodes: options.nodes, log: options.log });
    app.addHook('onClose', async () => cluster.close());
  }
  app.addHook('onClose', async () => presence.close());

  if (options.recovery) {
    io.on('connection', (socket) => {
      if (socket.recovered) restored(presence, socket, metrics);
    });
  }
};

/**
 * A session restored by connection state recovery is back in its rooms without a `room:join`: it is
 * counted (its arrival folds into the room's next event, like any join), and told where each room
 * stands now. The events it missed may not all be replayable (a node's presence events are its own,
 * and the session may come back on another node), so this state replaces what the client holds.
 */
function restored(presence: Presence, socket: GatewaySocket, metrics: GatewayMetrics): void {
  for (const room of chatRoomsOf(socket.rooms)) {
    presence.arrive(room, socket.data.user);
    const state = presence.state(room);
    if (state.event === 'presence:diff') socket.emit(state.event, state.payload);
    else socket.emit(state.event, state.payload);
    metrics.eventsOut.inc({ event: state.event });
  }
}
