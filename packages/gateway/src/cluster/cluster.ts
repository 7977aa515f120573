import type { Logger } from 'pino';
import type { ServerOptions } from 'socket.io';
import { ObservedInMemoryAdapter, ObservedSessionAwareAdapter } from '../adapters/in-memory.js';
import type { GatewayConfig } from '../config.js';
import { connectMongoCluster, type MongoCluster } from './mongo.js';
import { type RestorePacer, withPacedRestores } from './restore-pacing.js';

/*
 * How this node reaches the others: MongoDB mode (MONGODB_URI: the change-stream adapter and the
 * shared history store), an adapter given by the caller (the node:cluster workers' one), or none
 * (one node: socket.io's in-memory adapter). Every adapter offers the "delivered locally" hook.
 */

export type AdapterConstructor = NonNullable<ServerOptions['adapter']>;

export interface Cluster {
  readonly adapter: AdapterConstructor;
  /** MongoDB mode: the client, the adapter factory and the history store every node shares. */
  readonly mongo: MongoCluster | undefined;
  /** Closes the connection to MongoDB; call after Socket.IO (and so the adapter) closed. */
  close(): Promise<void>;
}

export async function joinCluster(
  config: GatewayConfig,
  given: AdapterConstructor | undefined,
  log: Logger,
  restores?: RestorePacer,
): Promise<Cluster> {
  if (given !== undefined) return { adapter: given, mongo: undefined, close: async () => undefined };
  if (config.mongo !== undefined) {
    const mongo = await connectMongoCluster(config.mongo, config.nodeId, log, {
      drainTimeoutMs: config.drainTimeoutMs,
    });
    // Restores query MongoDB: paced (restore-pacing.ts), so a reconnect storm does not become a query storm.
    const adapter = restores === undefined ? mongo.adapter : withPacedRestores(mongo.adapter, restores);
    return { adapter, mongo, close: () => mongo.close() };
  }
  // socket.io itself picks the session-aware adapter when connection state recovery is on.
  const adapter = config.maxDisconnectionDurationMs > 0 ? ObservedSessionAwareAdapter : ObservedInMemoryAdapter;
  return { adapter, mongo: undefined, close: async () => undefined };
}
