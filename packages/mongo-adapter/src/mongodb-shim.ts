import type { Collection, Document, MongoClient, TopologyDescription } from 'mongodb';

/**
 * Every use of a `mongodb` driver internal, in one place; `test/mongodb-shim.test.ts` fails loudly on
 * a driver version where one is gone. Missing, each degrades to "assume a primary" (the behaviour before
 * the adapter watched the topology), never to a failure.
 */

/**
 * The client a collection belongs to. `collection.db.client` is public in driver 7; older drivers keep the
 * same object as the internal `collection.client`.
 */
export function clientOf(collection: Collection<Document>): MongoClient | undefined {
  const c = collection as unknown as { db?: { client?: unknown }; client?: unknown };
  const client = c.db?.client ?? c.client;
  return isEventEmitter(client) ? (client as MongoClient) : undefined;
}

/**
 * The topology the client knows right now. SDAM's `topologyDescriptionChanged` events (public) report every
 * change, but only from the moment one listens; a connected client's current description lives on its
 * internal `topology`.
 */
export function currentTopology(client: MongoClient): TopologyDescription | undefined {
  const topology = (client as unknown as { topology?: { description?: unknown } }).topology;
  const description = topology?.description;
  if (typeof description !== 'object' || description === null) return undefined;
  return (description as { servers?: unknown }).servers instanceof Map
    ? (description as TopologyDescription)
    : undefined;
}

function isEventEmitter(value: unknown): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { on?: unknown }).on === 'function' &&
    typeof (value as { off?: unknown }).off === 'function'
  );
}
