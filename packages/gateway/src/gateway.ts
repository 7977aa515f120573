import type { AddressInfo } from 'node:net';
import cors from '@fastify/cors';
import type { Server as HttpServer } from 'node:http';
import Fastify, { type FastifyHttpOptions, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { hasLocalDeliveryHook, type LocalDeliveryHook } from './adapters/local-delivery.js';
import { nodeLeftHookOf } from './adapters/node-left.js';
import { clientAddresses } from './auth/client-address.js';
import { AuthFailures } from './auth/failures.js';
import { createTokenVerifier } from './auth/identify.js';
import { authPlugin } from './auth/plugin.js';
import { admissionPlugin } from './admission/plugin.js';
import { VerificationBudget } from './admission/verifications.js';
import { type AdapterConstructor, joinCluster } from './cluster/cluster.js';
import { forwardingPlugin } from './cluster/forwarding.js';
import { mongoAdapterOf } from './cluster/mongo.js';
import { mongoRateLimitStore } from './cluster/publish-rate-store.js';
import { clusterSocketsPerUser } from './cluster/user-sockets.js';
import { clusterPlugin } from './cluster/plugin.js';
import { RestorePacer } from './cluster/restore-pacing.js';
import { useNodeSessionIds } from './cluster/session-id.js';
import type { GatewayConfig } from './config.js';
import { demoPlugin, type DemoOptions } from './demo/plugin.js';
import { healthPlugin } from './health/plugin.js';
import { httpApiPlugin } from './http-api/plugin.js';
import { Answers, createClientErrorHandler } from './http/client-errors.js';
import { errorsPlugin, frameworkErrorHandler } from './http/errors.js';
import { openapiPlugin } from './http/openapi.js';
import { originPolicy } from './http/origin-policy.js';
import { protocolValidatorCompiler } from './http/validation.js';
import { componentLogger, nodeLogger } from './logging.js';
import { createMetricsServer, metricsPlugin } from './metrics/plugin.js';
import { createGatewayMetrics, type GatewayMetrics } from './metrics/registry.js';
import { presencePlugin } from './presence/plugin.js';
import { Presence } from './presence/presence.js';
import { createRoomAccess } from './rooms/access.js';
import { createRoomEvents, type RoomEvents } from './rooms/room-events.js';
import { RoomService } from './rooms/service.js';
import { closingGate } from './shutdown/closing-gate.js';
import { createDrain } from './shutdown/drain.js';
import { Lifecycle } from './shutdown/lifecycle.js';
import { shutdownPlugin } from './shutdown/plugin.js';
import { socketPlugin } from './socket/plugin.js';
import { createSocketServer } from './socket/server.js';
import { ssePlugin } from './sse/plugin.js';
import { exposureWarning } from './startup.js';
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
  /** Who is in which room; `flush()` runs the presence interval's work at once. */
  readonly presence: Presence;
  /** True from the moment draining starts. */
  readonly draining: boolean;
  /**
   * Starts listening on PORT/HOST; with PORT 0 the URL carries the port actually bound. With
   * METRICS_PORT, `metricsUrl` is where `/metrics` is served instead.
   */
  listen(): Promise<{ url: string; metricsUrl?: string }>;
  /** Readiness false, new connections refused, clients told and disconnected; the server keeps running. */
  drain(): Promise<void>;
  /** `drain()`, then stop Socket.IO and the HTTP server. Idempotent. */
  close(): Promise<void>;
}

const MAX_PARAM_LENGTH = 16 * 1024;

/** The version of the `/v1` HTTP API, shown in its OpenAPI document. */
const GATEWAY_API_VERSION = '1.0.0';

/**
 * Wires the gateway: the shared pieces (HTTP server, Socket.IO, the cluster, the room service) and
 * one plugin per feature. Each feature lives in its own folder; nothing is decided here.
 */
export async function createGateway(config: GatewayConfig, deps: GatewayDeps = {}): Promise<Gateway> {
  const log = nodeLogger(config.nodeId, config.logLevel, deps.logger);
  const answers = new Answers();
  const addresses = clientAddresses(config.trustProxy);
  const authFailures = new AuthFailures(config.authFailures);
  const app = Fastify({
    ...fastifyOptions(config, log, answers),
    ...(addresses.trust === undefined ? {} : { trustProxy: addresses.trust }),
  });
  app.setValidatorCompiler(protocolValidatorCompiler);
  const metrics = createGatewayMetrics();
  const lifecycle = new Lifecycle();
  const origins = originPolicy(config.corsOrigins);
  const restores = new RestorePacer(config.admission, metrics.registry);
  const cluster = await joinCluster(config, deps.adapter, log, restores);
  const io = createSocketServer(app.server, { config, adapter: cluster.adapter, lifecycle, origins, metrics });
  useNodeSessionIds(io, config.nodeId);
  // After Socket.IO attached: engine.io takes over the server's 'request' listeners.
  answers.observe(app.server);
  const adapter = io.of('/').adapter;
  const nodes = nodeLeftHookOf(adapter);
  const store = deps.store ?? cluster.mongo?.store ?? new MemoryMessageStore({ historyPerRoom: config.historyPerRoom });
  const roomsLog = componentLogger(log, 'rooms');
  const roomEvents = createRoomEvents({ io, deliveries: localDeliveryHookOf(adapter), metrics, log: roomsLog });
  const presenceLog = componentLogger(log, 'presence');
  const presence = new Presence({
    config: config.presence,
    roomEvents,
    clustered: nodes !== undefined,
    log: presenceLog,
  });
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
    httpServer: app.server,
    lifecycle,
    metrics,
    log: componentLogger(log, 'shutdown'),
    drainTimeoutMs: config.drainTimeoutMs,
  });
  const mongo = mongoAdapterOf(io);

  await app.register(errorsPlugin);
  await app.register(closingGate, { lifecycle });
  if (origins.fastifyCors !== undefined) await app.register(cors, origins.fastifyCors);
  // Handshake middleware runs in registration order: the drain gate first, then auth.
  await app.register(shutdownPlugin, { io, lifecycle, drain });
  // MongoDB mode: MAX_SOCKETS_PER_USER and the publish rate limit count across the cluster.
  const clusterSockets =
    cluster.mongo !== undefined &&
    mongo !== undefined &&
    config.mongo?.clusterLimits === true &&
    config.maxSocketsPerUser > 0
      ? clusterSocketsPerUser({
          db: cluster.mongo.db,
          node: mongo.health().node,
          max: config.maxSocketsPerUser,
          nodes,
          log: componentLogger(log, 'cluster'),
        })
      : undefined;
  if (clusterSockets !== undefined) app.addHook('preClose', () => clusterSockets.close());
  await app.register(authPlugin, {
    io,
    config,
    metrics,
    authFailures,
    addresses,
    ...(clusterSockets === undefined ? {} : { clusterSockets }),
    verifications,
    log: componentLogger(log, 'auth'),
  });
  await app.register(socketPlugin, { io, rooms, config, metrics, log: componentLogger(log, 'socket') });
  await app.register(presencePlugin, {
    io,
    presence,
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
    authFailures,
    metrics,
    log: componentLogger(log, 'sse'),
  });
  await app.register(httpApiPlugin, {
    config,
    rooms,
    verifyToken,
    authFailures,
    ...(cluster.mongo === undefined || config.mongo?.clusterLimits !== true
      ? {}
      : { rateLimitStore: mongoRateLimitStore(cluster.mongo.db) }),
    registry: metrics.registry,
  });
  await app.register(healthPlugin, { lifecycle, ...(mongo ? { dependency: () => mongo.health() } : {}) });
  await app.register(metricsPlugin, { io, metrics, config: config.metrics, authFailures });
  const metricsServer = createMetricsServer({
    metrics,
    config: config.metrics,
    authFailures,
    log: componentLogger(log, 'metrics'),
  });
  if (metricsServer !== undefined) app.addHook('onClose', () => metricsServer.close());
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
    presence,
    get draining() {
      return lifecycle.draining;
    },
    async listen() {
      await app.listen({ port: config.port, host: config.host });
      const warning = exposureWarning(config);
      if (warning !== undefined) log.warn({ host: config.host, authMode: config.auth.mode }, warning);
      const url = urlOf(app.server.address() as AddressInfo, config.host);
      if (metricsServer === undefined) return { url };
      return { url, metricsUrl: await metricsServer.listen(config.host) };
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

function fastifyOptions(config: GatewayConfig, log: Logger, answers: Answers): FastifyHttpOptions<HttpServer> {
  return {
    loggerInstance: log,
    bodyLimit: config.maxHttpBufferSize,
    // shutdown/closing-gate.ts answers while closing, in the protocol's error format.
    return503OnClosing: false,
    frameworkErrors: frameworkErrorHandler,
    clientErrorHandler: createClientErrorHandler(log, answers),
    // A room name of any length reaches the route's schema (400 INVALID_ROOM), not the router's 414;
    // Node's header size limit bounds a URL long before this.
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // By the time fastify closes, sockets were drained: end any HTTP connection still open.
    forceCloseConnections: true,
    requestTimeout: config.httpTimeouts.requestMs,
    http: {
      headersTimeout: config.httpTimeouts.headersMs,
      // Node checks the request and headers deadlines on this period (30 s by default).
      connectionsCheckingInterval: checkingIntervalOf(config.httpTimeouts),
    },
  };
}

/** A quarter of the shorter deadline, so a late request is cut within 25% of it (at most every 30 s, at least every 100 ms). */
function checkingIntervalOf({ requestMs, headersMs }: GatewayConfig['httpTimeouts']): number {
  return Math.min(30_000, Math.max(100, Math.floor(Math.min(requestMs, headersMs) / 4)));
}

function urlOf(address: AddressInfo, host: string): string {
  const wildcard = host === '0.0.0.0' || host === '::' || host === '';
  const shown = wildcard ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return `http://${shown}:${address.port}`;
}
