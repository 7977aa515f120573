import type { AddressInfo } from 'node:net';
import cors from '@fastify/cors';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { type Logger, type LoggerOptions, pino } from 'pino';
import { Server, type ServerOptions } from 'socket.io';
import { ObservedInMemoryAdapter, ObservedSessionAwareAdapter } from './adapters/in-memory.js';
import { hasLocalDeliveryHook } from './adapters/local-delivery.js';
import { bridgeAdapterMetrics } from './cluster/metrics.js';
import { trackInFlight } from './shutdown/in-flight.js';
import { connectMongoCluster, mongoAdapterOf, type MongoCluster } from './cluster/mongo.js';
import { reapPresenceOfEvictedNodes } from './presence/reaper.js';
import { announceRecoveredPresence } from './presence/recovered.js';
import { useNodeSessionIds } from './cluster/session-id.js';
import type { GatewayConfig, LogLevel } from './config.js';
import { createTokenVerifier } from './auth/identify.js';
import { createRoomAccess } from './rooms/access.js';
import { Lifecycle } from './shutdown/lifecycle.js';
import { createGatewayMetrics, type GatewayMetrics } from './metrics/registry.js';
import { authPlugin } from './auth/plugin.js';
import { demoPlugin, type DemoOptions } from './demo/plugin.js';
import { errorsPlugin } from './http/errors.js';
import { protocolValidatorCompiler } from './http/validation.js';
import { healthPlugin } from './health/plugin.js';
import { httpApiPlugin } from './http-api/plugin.js';
import { metricsPlugin } from './metrics/plugin.js';
import { openapiPlugin } from './http/openapi.js';
import { roomsPlugin } from './socket/plugin.js';
import { PresenceRegistry } from './presence/registry.js';
import { drainGateway, handshakeGate, shutdownPlugin } from './shutdown/plugin.js';
import { ssePlugin } from './sse/plugin.js';
import { createRoomEvents, type RoomEvents } from './rooms/room-events.js';
import { SseHub } from './sse/hub.js';
import { createSseMetrics } from './sse/metrics.js';
import { originPolicy } from './http/origin-policy.js';
import { MemoryMessageStore } from './store/memory.js';
import type { MessageStore } from './store/message-store.js';
import type { GatewayServer } from './types.js';

export interface GatewayDeps {
  /** History store. Default: a `MemoryMessageStore` bounded by HISTORY_PER_ROOM (closed with the gateway). */
  store?: MessageStore;
  /** A pino logger to use instead of building one from LOG_LEVEL. */
  logger?: Logger;
  /** Where the demo page and SDK bundle are read from (tests point these elsewhere). */
  demo?: DemoOptions;
  /**
   * A Socket.IO adapter to use instead of the default (in-memory, or MongoDB's when MONGODB_URI is
   * set), e.g. `createObservedClusterAdapter()` between `node:cluster` workers. It must offer the
   * "delivered locally" hook (`onLocalDelivery`, see adapters/local-delivery.ts).
   */
  adapter?: ServerOptions['adapter'];
}

export interface Gateway {
  readonly app: FastifyInstance;
  readonly io: GatewayServer;
  readonly config: GatewayConfig;
  readonly store: MessageStore;
  readonly metrics: GatewayMetrics;
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

/** Share of DRAIN_TIMEOUT_MS spent waiting for clients to leave; the rest is for stopping. */
const DRAIN_WAIT_SHARE = 0.8;
/** Share of DRAIN_TIMEOUT_MS spent, after that, for handlers still running. */
const IN_FLIGHT_WAIT_SHARE = 0.1;

/** Log paths that may hold credentials. */
const REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["sec-websocket-protocol"]',
  'headers.authorization',
  'headers.cookie',
  'auth.token',
  'handshake.auth.token',
  'token',
  '*.token',
];

/** Wires the plugins into one fastify app with Socket.IO attached to its HTTP server. */
export async function createGateway(config: GatewayConfig, deps: GatewayDeps = {}): Promise<Gateway> {
  const log = deps.logger ?? pino(gatewayLoggerOptions(config.logLevel));
  const app = Fastify(fastifyOptions(config, log));
  app.setValidatorCompiler(protocolValidatorCompiler);
  const lifecycle = new Lifecycle();
  const metrics = createGatewayMetrics();
  const origins = originPolicy(config.corsOrigins);
  const cluster: MongoCluster | undefined =
    config.mongo !== undefined && deps.adapter === undefined
      ? await connectMongoCluster(config.mongo, config.nodeId, app.log)
      : undefined;
  const adapter = deps.adapter ?? cluster?.adapter;
  const io: GatewayServer = new Server(app.server, {
    transports: [...config.transports],
    perMessageDeflate: config.perMessageDeflate,
    maxHttpBufferSize: config.maxHttpBufferSize,
    serveClient: false,
    allowRequest: handshakeGate(lifecycle, origins.allowsRequest, metrics),
    ...(origins.socketIoCors === undefined ? {} : { cors: origins.socketIoCors }),
    adapter: adapter ?? (config.maxDisconnectionDurationMs > 0 ? ObservedSessionAwareAdapter : ObservedInMemoryAdapter),
    ...(config.maxDisconnectionDurationMs > 0
      ? { connectionStateRecovery: { maxDisconnectionDuration: config.maxDisconnectionDurationMs } }
      : {}),
  });
  useNodeSessionIds(io, config.nodeId);
  const inFlight = trackInFlight(io);
  const presence = new PresenceRegistry();
  if (config.maxDisconnectionDurationMs > 0) announceRecoveredPresence(io, presence, metrics, app.log);
  const ownsStore = deps.store === undefined;
  const store = deps.store ?? cluster?.store ?? new MemoryMessageStore({ historyPerRoom: config.historyPerRoom });

  const deliveries = io.of('/').adapter;
  if (!hasLocalDeliveryHook(deliveries)) {
    throw new TypeError(
      'The Socket.IO adapter has no onLocalDelivery hook: SSE streams could not see room broadcasts (use createObservedClusterAdapter)',
    );
  }
  const roomEvents = createRoomEvents({ io, deliveries, metrics, log });
  const roomAccess = createRoomAccess(config.privateRoomPrefix);
  const verifyToken = config.auth.mode === 'jwt' ? createTokenVerifier(config.auth) : undefined;
  const sseMetrics = createSseMetrics(metrics);
  const sseHub = new SseHub({ roomEvents, config: config.sse, metrics: sseMetrics, log: app.log });

  let draining: Promise<void> | undefined;
  const drain = (): Promise<void> => {
    // SSE streams are told and ended at once; their clients reconnect (elsewhere) by themselves.
    if (draining === undefined) sseHub.closeAll({ reason: 'draining', reconnectAfterMs: config.sse.retryMs });
    return (draining ??= drainGateway({
      io,
      lifecycle,
      metrics,
      log: app.log,
      timeoutMs: Math.floor(config.drainTimeoutMs * DRAIN_WAIT_SHARE),
    }).then(() =>
      // Handlers still running (a send between store and broadcast) finish before the adapter closes.
      inFlight.settle(Math.floor(config.drainTimeoutMs * IN_FLIGHT_WAIT_SHARE)),
    ));
  };

  await app.register(errorsPlugin);
  if (origins.fastifyCors !== undefined) await app.register(cors, origins.fastifyCors);
  // Handshake middleware runs in registration order: the drain gate first, then auth.
  await app.register(shutdownPlugin, { io, lifecycle, drain });
  await app.register(authPlugin, { io, config, metrics });
  await app.register(roomsPlugin, { io, config, store, metrics, roomEvents, roomAccess, presence });
  await app.register(openapiPlugin, { version: GATEWAY_API_VERSION });
  await app.register(ssePlugin, {
    hub: sseHub,
    store,
    config,
    lifecycle,
    roomAccess,
    verifyToken,
    metrics: sseMetrics,
  });
  await app.register(httpApiPlugin, { config, store, roomEvents, roomAccess, verifyToken, metrics });
  app.addHook('onClose', async () => sseHub.stop());
  const mongoAdapter = mongoAdapterOf(io);
  await app.register(healthPlugin, { lifecycle, ...(mongoAdapter ? { dependency: () => mongoAdapter.health() } : {}) });
  await app.register(metricsPlugin, { io, metrics });
  await app.register(demoPlugin, deps.demo ?? {});
  if (ownsStore) app.addHook('onClose', async () => store.close?.());
  if (adapter !== undefined) {
    const adapterMetrics =
      cluster === undefined
        ? undefined
        : bridgeAdapterMetrics(metrics.registry, {
            events: cluster.adapter.events,
            health: () => mongoAdapter?.health(),
            serverCount: () => 1 + (mongoAdapter?.liveNodes().length ?? 0),
          });
    const reaper = reapPresenceOfEvictedNodes({
      io,
      presence,
      metrics,
      log: app.log,
      onEviction: () => adapterMetrics?.nodeEvicted(),
    });
    app.addHook('onClose', async () => {
      reaper.close();
      // The adapter writes ADAPTER_CLOSE through the client: close it first (a no-op if already closed).
      await io.of('/').adapter.close();
      await cluster?.close();
    });
  }

  let closing: Promise<void> | undefined;
  return {
    app,
    io,
    config,
    store,
    metrics,
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

function fastifyOptions(config: GatewayConfig, log: Logger): FastifyServerOptions {
  return {
    loggerInstance: log,
    bodyLimit: config.maxHttpBufferSize,
    return503OnClosing: true,
    // By the time fastify closes, sockets were drained: end any HTTP connection still open.
    forceCloseConnections: true,
  };
}

/**
 * The gateway's pino options: credentials redacted, query strings (which may carry SSE
 * `?token=`) left out of request logs. Exported so a caller building its own logger can reuse them.
 */
export function gatewayLoggerOptions(level: LogLevel): LoggerOptions {
  return {
    level,
    redact: { paths: REDACT, censor: '[redacted]' },
    serializers: {
      req: (request: { method: string; url: string; ip?: string }) => ({
        method: request.method,
        url: request.url.split('?')[0],
        remoteAddress: request.ip,
      }),
    },
  };
}

function urlOf(address: AddressInfo, host: string): string {
  const wildcard = host === '0.0.0.0' || host === '::' || host === '';
  const shown = wildcard ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return `http://${shown}:${address.port}`;
}
