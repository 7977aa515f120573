import type { MongoClient, TopologyDescription, TopologyDescriptionChangedEvent } from 'mongodb';
import { currentTopology } from './mongodb-shim.js';

/**
 * What this node's driver knows of MongoDB:
 * - `primary`: a writable server is known (a replica set's primary, a mongos, a standalone);
 * - `no-primary`: members answer but none is primary: an election (10–12 s with mongod's defaults), seen
 *   the same way by every node of the cluster;
 * - `unreachable`: no member answers this node.
 */
export type MongoView = 'primary' | 'no-primary' | 'unreachable';

const WRITABLE = new Set(['RSPrimary', 'Standalone', 'Mongos', 'LoadBalancer']);
const REACHABLE = new Set(['RSSecondary', 'RSArbiter', 'RSOther', 'RSGhost', 'PossiblePrimary']);

export function viewOf(description: TopologyDescription): MongoView {
  let reachable = false;
  for (const server of description.servers.values()) {
    if (WRITABLE.has(server.type)) return 'primary';
    if (REACHABLE.has(server.type)) reachable = true;
  }
  return reachable ? 'no-primary' : 'unreachable';
}

/**
 * Follows the client's topology through the driver's SDAM events (`topologyDescriptionChanged`, emitted on
 * every change; with the streaming protocol a step-down is known at once). Until the driver says otherwise
 * a primary is assumed: the adapter then behaves as it would without this knowledge.
 */
export class TopologyWatch {
  private current: MongoView = 'primary';
  private changedAt = Date.now();
  private readonly onDescription = (event: TopologyDescriptionChangedEvent) =>
    this.update(viewOf(event.newDescription));

  constructor(
    private readonly client: MongoClient | undefined,
    private readonly onChange: (view: MongoView, previous: MongoView) => void,
  ) {
    if (!client) return;
    const known = currentTopology(client);
    if (known && known.servers.size > 0) this.current = viewOf(known);
    client.on('topologyDescriptionChanged', this.onDescription);
  }

  get view(): MongoView {
    return this.current;
  }

  /** When the current view began (ms since the epoch). */
  get since(): number {
    return this.changedAt;
  }

  close(): void {
    this.client?.off('topologyDescriptionChanged', this.onDescription);
  }

  private update(view: MongoView): void {
    if (view === this.current) return;
    const previous = this.current;
    this.current = view;
    this.changedAt = Date.now();
    this.onChange(view, previous);
  }
}
