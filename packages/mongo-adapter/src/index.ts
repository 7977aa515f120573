export {
  createAdapter,
  MongoAdapter,
  type MongoAdapterFactory,
  type NamespaceLike,
  type NodeLeftReason,
} from './adapter.js';
export type { DeliveredPacket, LocalDeliveryListener } from './delivery-hook.js';
export { createEmitter, MongoEmitter, type MongoEmitterOptions } from './emitter.js';
export { setupCollection, type SetupOptions, type SetupResult } from './setup.js';
export { ADAPTER_ERRORS, MongoAdapterError, type AdapterErrorCode } from './errors.js';
export { AdapterEvents, type AdapterEventMap, type AdapterEventName } from './events.js';
export type { MongoAdapterOptions, AdapterLogger } from './options.js';
export type { BusHealth, BusCounters } from './bus.js';
export type { FeedState, GapInfo } from './change-feed.js';
export { DEFAULT_MAX_DOCUMENT_BYTES, FORMAT_VERSION, feedPipeline, type MessageDocument } from './document.js';
export { sessionKey, type SessionDocument } from './recovery.js';
export { parseOffset, type ParsedOffset } from './positions.js';
