export { createGateway, type Gateway, type GatewayDeps } from './gateway.js';
export { gatewayLoggerOptions } from './logging.js';
export {
  loadConfig,
  ConfigError,
  formatProblem,
  LOG_LEVELS,
  TRANSPORT_NAMES,
  MIN_JWT_SECRET_LENGTH,
  type AuthConfig,
  type ConfigProblem,
  type GatewayConfig,
  type LogLevel,
  type MongoConfig,
  type PresenceConfig,
  defaultNodeId,
  type TransportName,
} from './config.js';
export type { AppendInput, AppendResult, HistoryAfter, HistoryBefore, MessageStore } from './store/message-store.js';
export { MemoryMessageStore, type MemoryMessageStoreOptions } from './store/memory.js';
export { MongoMessageStore, type MongoMessageStoreOptions } from './store/mongo.js';
export {
  connectMongoCluster,
  ADAPTER_COLLECTION,
  type MongoCluster,
  type MongoClusterOptions,
} from './cluster/mongo.js';
export { ADAPTER_METRIC_NAMES } from './cluster/metrics.js';
export { sessionIdFor, nodeOfSessionId, workerOfSessionId } from './cluster/session-id.js';
export { FORWARD_METRIC_NAMES } from './cluster/forward-metrics.js';
export { FORWARD_HEADER } from './cluster/forward-signature.js';
export { NODES_COLLECTION } from './cluster/node-directory.js';
export { RESTORE_METRIC_NAMES } from './cluster/restore-pacing.js';
export { ADMISSION_METRIC_NAMES } from './admission/metrics.js';
export { createGatewayMetrics, METRIC_NAMES, type GatewayMetrics } from './metrics/registry.js';
export { roomChannel, roomOfChannel } from './rooms/channel.js';
export type { RoomEventListener, RoomEventOptions, RoomEvents } from './rooms/room-events.js';
export type { SseConfig, PublishConfig } from './config.js';
export { MIN_CLUSTER_SECRET_LENGTH, type AdmissionConfig, type ForwardingConfig } from './config.js';
export { roomPresence, type RoomPresence } from './presence/inspect.js';
export { RoomService, type Poster, type PostInput, type HistoryQuery, type MembersQuery } from './rooms/service.js';
export { Presence, type PresenceState, type PresenceView } from './presence/presence.js';
export {
  hasLocalDeliveryHook,
  type DeliveredPacket,
  type DeliveryTarget,
  type LocalDeliveryHook,
  type LocalDeliveryListener,
} from './adapters/local-delivery.js';
export { ObservedInMemoryAdapter, ObservedSessionAwareAdapter } from './adapters/in-memory.js';
export { ObservedNodeClusterAdapter, createObservedClusterAdapter } from './adapters/node-cluster.js';
export type { NodeLeft, NodeLeftHook, NodeLeftListener } from './adapters/node-left.js';
export { createIdentify, type Identify } from './auth/identify.js';
export { httpErrorOf } from './http/errors.js';
export type { DemoOptions } from './demo/plugin.js';
export type { GatewayServer, GatewaySocket } from './types.js';
