import { MongoClient, type TopologyDescriptionChangedEvent } from 'mongodb';
import { afterEach, describe, expect, it } from 'vitest';
import { clientOf, currentTopology } from '../src/mongodb-shim.js';
import { TopologyWatch, viewOf, type MongoView } from '../src/topology.js';
import { onStandIn, startMongo, waitFor, type Mongo } from './support.js';

/**
 * What the adapter knows of MongoDB comes from the driver's server discovery and monitoring (SDAM), which
 * the server-discovery-and-monitoring specification defines: a replica set has a writable server only while
 * a member reports itself primary (`RSPrimary`); during an election the members are `RSSecondary`.
 */

let mongo: Mongo | undefined;
const clients: MongoClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close(true)));
  await mongo?.stop();
  mongo = undefined;
});

async function connected(uri: string): Promise<MongoClient> {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 5000, heartbeatFrequencyMS: 500 });
  clients.push(client);
  await client.connect();
  return client;
}

describe('mongodb driver internals used by the adapter (src/mongodb-shim.ts)', () => {
  it("reaches a collection's client, and the client's current topology description", async () => {
    mongo = await startMongo();
    const client = await connected(mongo.uri);
    const collection = client.db(mongo.dbName).collection('t');
    expect(clientOf(collection)).toBe(client);
    const description = currentTopology(client);
    expect(description, 'MongoClient.topology.description is gone: see mongodb-shim.ts').toBeDefined();
    expect(description!.servers.size).toBeGreaterThan(0);
    expect(viewOf(description!)).toBe('primary');
  });

  it('an unconnected client has no topology yet: a primary is assumed until the driver says otherwise', () => {
    const client = new MongoClient('mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=100');
    expect(currentTopology(client)).toBeUndefined();
    const watch = new TopologyWatch(client, () => undefined);
    expect(watch.view).toBe('primary');
    watch.close();
  });
});

(onStandIn ? describe : describe.skip)('TopologyWatch on a three-member replica set', () => {
  it('sees no primary during an election, then the new primary; every change once, in order', async () => {
    mongo = await startMongo({ members: 3 });
    const client = await connected(mongo.uri);
    const seen: MongoView[] = [];
    const watch = new TopologyWatch(client, (view) => seen.push(view));
    expect(watch.view).toBe('primary');
    const descriptions: string[] = [];
    client.on('topologyDescriptionChanged', (event: TopologyDescriptionChangedEvent) =>
      descriptions.push(event.newDescription.type),
    );
    mongo.standIn!.faults.failover({ electionMs: 800 });
    await waitFor('the driver to see the election', () => watch.view === 'no-primary');
    expect(descriptions).toContain('ReplicaSetNoPrimary');
    const noPrimarySince = watch.since;
    await waitFor('the driver to see the new primary', () => watch.view === 'primary');
    expect(seen).toEqual(['no-primary', 'primary']);
    expect(watch.since).toBeGreaterThanOrEqual(noPrimarySince);
    watch.close();
  });

  it('sees nothing reachable when every member is down', async () => {
    mongo = await startMongo({ members: 3 });
    const client = await connected(mongo.uri);
    const watch = new TopologyWatch(client, () => undefined);
    const restart = mongo.standIn!.restart({ keepData: true, downtimeMs: 1500 });
    await waitFor('the driver to lose every member', () => watch.view === 'unreachable', 5000);
    await restart;
    await waitFor('the driver to find the primary again', () => watch.view === 'primary');
    watch.close();
  });
});
