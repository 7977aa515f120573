import type { AddressInfo } from 'node:net';
import cors from '@fastify/cors';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Logger } from 'pino';
import { hasLocalDeliveryHook, type LocalDeliveryHook } from './adapters/local-delivery.js';
import { nodeLeftHookOf } from './adapters/node-left.js';
import { createTokenVerifier } from './auth/identify.js';
import { authPlugin } from './auth/plugin.js';
import { admissionPlugin } from './admission/plugin.js';
import { VerificationBudget } from './admission/verifications.js';
import { type AdapterConstructor, joinCluster } from './cluster/cluster.js';
import { forwardingPlugin } from './cluster/forwarding.js';
import { mongoAdapterOf } from './cluster/mongo.js';
import { clusterPlugin } from './cluster/plugin.js';
import { RestorePacer } from './cluster/restore-pacing.js';
import { useNodeSessionIds } from './cluster/session-id.js';
import type { GatewayConfig } from './config.js';
import { demoPlugin, type DemoOptions } from './demo/plugin.js';
import { healthPlugin } from './health/plugin.js';
import { httpApiPlugin } from './http-api/plugin.js';
import { errorsPlugin } from './http/errors.js';
import { openapiPlugin } from './http/openapi.js';
import { originPolicy } from './http/origin-policy.js';
import { protocolValidatorCompiler } from './http/validation.js';
import { componentLogger, nodeLogger } from './logging.js';
import { metricsPlugin } from './metrics/plugin.js';
import { createGatewayMetrics, type GatewayMetrics } from './metrics/registry.js';
import { presencePlugin } from './presence/plugin.js';
import { Presence } from './presence/presence.js';
import { PresenceRegistry } from './presence/registry.js';
import { createRoomAccess } from './rooms/access.js';
import { createRoomEvents, type RoomEvents } from './rooms/room-events.js';
import { RoomService } from './rooms/service.js';
import { createDrain } from './shutdown/drain.js';
import { Lifecycle } from './shutdown/lifecycle.js';
import { shutdownPlugin } from './shutdown/plugin.js';
import { socketPlugin } from './socket/plugin.js';
import { createSocketServer } from './socket/server.js';
import { ssePlugin } from './sse/plugin.js';
import { MemoryMessageStore } from './store/memory.js';
import type { MessageStore } from './store/message-store.js';
import type { GatewayServer } from './types.js';

export interface GatewayDeps {
  /** History store. Default: MongoDB's in MongoDB mode, else a `MemoryMessageStore` bounded by HISTORY_PER_ROOM (closed with the gateway). */
  store?: MessageStore;
  /** A pino logger to use instead of building one from LOG_LEVEL (the gateway binds `node` on it). */
  logger?: Logger;
  /** Where the demo page and SDK bundle are read from (tests point these elsewhere). */
  demo?: DemoOptions;
  /**
   * A Socket.IO adapter to use instead of the default (in-memory, or MongoDB's when MONGODB_URI is
   * set), e.g. `createObservedClusterAdapter()` between `node:cluster` workers. It must offer the
   * "delivered locally" hook (`onLocalDelivery`, see adapters/local-delivery.ts).
   */
  adapter?: AdapterConstructor;
}

export interface Gateway {
  readonly app: FastifyInstance;
  readonly io: GatewayServer;
  readonly config: GatewayConfig;
  readonly store: MessageStore;
  readonly metrics: GatewayMetrics;
  /** This node's logger (`node` bound). */
  readonly log: Logger;
  /** Post, join, leave, access: every room use case, as the transports call them. */
  readonly rooms: RoomService;
  /** Emits room events to sockets and SSE streams on every node (`message:new` of a message stored elsewhere, say). */
  readonly roomEvents: RoomEvents;
  /** True from the moment draining starts. */
  readonly draining: boolean;
  /** Starts listening on PORT/HOST; with PORT 0 the URL carries the port actually bound. */
  listen(): Promise<{ url: string }>;
  /** Readiness false, new connections refused, clients told and disconnected; the server keeps running. */
  drain(): Promise<void>;
  /** `drain()`, then stop Socket.IO and the HTTP server. Idempotent. */
  close(): Promise<void>;
}

/** The version of the `/v1` HTTP API, shown in its OpenAPI document. */
const GATEWAY_API_VERSION = '1.0.0';

/**
 * Wires the gateway: the shared pieces (HTTP server, Socket.IO, the cluster, the room service) and
 * one plugin per feature. Each feature lives in its own folder; nothing is decided here.
 */
export async function createGateway(config: GatewayConfig, deps: GatewayDeps = {}): Promise<Gateway> {
  const log = nodeLogger(config.nodeId, config.logLevel, deps.logger);
  const app = Fastify(fastifyOptions(config, log));
  app.setValidatorCompiler(protocolValidatorCompiler);
  const metrics = createGatewayMetrics();
  const lifecycle = new Lifecycle();
  const origins = originPolicy(config.corsOrigins);
  const restores = new RestorePacer(config.admission, metrics.registry);
  const cluster = await joinCluster(config, deps.adapter, log, restores);
  const io = createSocketServer(app.server, { config, adapter: cluster.adapter, lifecycle, origins, metrics });
  useNodeSessionIds(io, config.nodeId);
  const adapter = io.of('/').adapter;
  const nodes = nodeLeftHookOf(adapter);
  const store = deps.store ?? cluster.mongo?.store ?? new MemoryMessageStore({ historyPerRoom: config.historyPerRoom });
  const roomsLog = componentLogger(log, 'rooms');
  const roomEvents = createRoomEvents({ io, deliveries: localDeliveryHookOf(adapter), metrics, log: roomsLog });
  const presenceLog = componentLogger(log, 'presence');
  const presence = new Presence({ io, registry: new PresenceRegistry(), roomEvents, log: presenceLog });
  const rooms = new RoomService({
    store,
    roomEvents,
    presence,
    access: createRoomAccess(config.privateRoomPrefix),
    maxRoomsPerSocket: config.maxRoomsPerSocket,
    log: roomsLog,
  });
  const verifications = new VerificationBudget(config.admission.maxJwtVerifications, config.admission.maxHandshakes);
  const verifyToken = config.auth.mode === 'jwt' ? verifications.wrap(createTokenVerifier(config.auth)) : undefined;
  const drain = createDrain({
    io,
    lifecycle,
    metrics,
    log: componentLogger(log, 'shutdown'),
    drainTimeoutMs: config.drainTimeoutMs,
  });
  const mongo = mongoAdapterOf(io);

  await app.register(errorsPlugin);
  if (origins.fastifyCors !== undefined) await app.register(cors, origins.fastifyCors);
  // Handshake middleware runs in registration order: the drain gate first, then auth.
  await app.register(shutdownPlugin, { io, lifecycle, drain });
  await app.register(authPlugin, { io, config, metrics, verifications, log: componentLogger(log, 'auth') });
  await app.register(socketPlugin, { io, rooms, config, metrics, log: componentLogger(log, 'socket') });
  await app.register(presencePlugin, {
    io,
    presence,
    roomEvents,
    nodes,
    recovery: config.maxDisconnectionDurationMs > 0,
    metrics,
    log: presenceLog,
  });
  await app.register(openapiPlugin, { version: GATEWAY_API_VERSION });
  await app.register(ssePlugin, {
    roomEvents,
    store,
    config,
    lifecycle,
    rooms,
    verifyToken,
    metrics,
    log: componentLogger(log, 'sse'),
  });
  await app.register(httpApiPlugin, { config, rooms, verifyToken, registry: metrics.registry });
  await app.register(healthPlugin, { lifecycle, ...(mongo ? { dependency: () => mongo.health() } : {}) });
  await app.register(metricsPlugin, { io, metrics });
  await app.register(clusterPlugin, { io, cluster, nodes, registry: metrics.registry });
  // Engine.IO middlewares run in this order: a request of another node's session is forwarded there
  // first; only handshakes reach admission control. (Registered after the cluster: closed before it.)
  const clusterLog = componentLogger(log, 'cluster');
  await app.register(forwardingPlugin, { io, config, cluster, registry: metrics.registry, log: clusterLog });
  await app.register(admissionPlugin, {
    io,
    config: config.admission,
    verifications,
    metrics,
    log: componentLogger(log, 'admission'),
  });
  await app.register(demoPlugin, deps.demo ?? {});
  // A store passed in is the caller's to close.
  if (deps.store === undefined) app.addHook('onClose', async () => store.close?.());

  let closing: Promise<void> | undefined;
  return {
    app,
    io,
    config,
    store,
    metrics,
    log,
    rooms,
    roomEvents,
    get draining() {
      return lifecycle.draining;
    },
    async listen() {
      await app.listen({ port: config.port, host: config.host });
      return { url: urlOf(app.server.address() as AddressInfo, config.host) };
    },
    drain,
    close: () => (closing ??= app.close().then(() => undefined)),
  };
}

/** The adapter's "delivered locally" hook; an adapter without one cannot feed SSE streams. */
function localDeliveryHookOf(adapter: unknown): LocalDeliveryHook {
  if (hasLocalDeliveryHook(adapter)) return adapter;
  throw new TypeError(
    'The Socket.IO adapter has no onLocalDelivery hook: SSE streams could not see room broadcasts (use createObservedClusterAdapter)',
  );
}

function fastifyOptions(config: GatewayConfig, log: Logger): FastifyServerOptions {
  return {
    loggerInstance: log,
    bodyLimit: config.maxHttpBufferSize,
    return503OnClosing: true,
    // By the time fastify closes, sockets were drained: end any HTTP connection still open.
    forceCloseConnections: true,
  };
}

function urlOf(address: AddressInfo, host: string): string {
  const wildcard = host === '0.0.0.0' || host === '::' || host === '';
  const shown = wildcard ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return `http://${shown}:${address.port}`;
}
