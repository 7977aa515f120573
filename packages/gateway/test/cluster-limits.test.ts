import { MongoClient } from 'mongodb';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { USER_SOCKETS_COLLECTION } from '../src/cluster/user-sockets.js';
import {
  API_KEY,
  closeAll,
  connect,
  connected,
  connectError,
  MongoStandIn,
  publish,
  socketTo,
  startMongoGateways,
  type TestSocket,
  waitFor,
} from '@switchyard/testkit';

/*
 * In MongoDB mode the per-user and per-publisher limits hold for the cluster, not per node: two
 * nodes allow MAX_SOCKETS_PER_USER and PUBLISH_RATE_LIMIT_MAX once, not twice.
 */

let mongo: MongoStandIn;
let databases = 0;
beforeAll(async () => {
  mongo = await MongoStandIn.start();
});
afterAll(async () => {
  await mongo?.stop();
});
afterEach(closeAll);

const as = (userId: string) => ({ transports: ['websocket' as const], auth: { userId }, reconnection: false });

describe('MAX_SOCKETS_PER_USER across two nodes', () => {
  it('counts the sockets a user holds on every node, and frees a slot when one goes', async () => {
    const db = `limits-${++databases}`;
    const [a, b] = await startMongoGateways(mongo, db, ['gw-a', 'gw-b'], { MAX_SOCKETS_PER_USER: '2' });
    const first = await connect(a!.url, as('ada'));
    await connect(b!.url, as('ada'));
    const third = await connectError(socketTo(b!.url, as('ada')));
    expect(third.data).toEqual({ code: 'TOO_MANY_SOCKETS', message: expect.any(String) });
    expect((await connectError(socketTo(a!.url, as('ada')))).data?.code).toBe('TOO_MANY_SOCKETS');
    // Other users are not affected.
    await connect(a!.url, as('grace'));

    first.disconnect();
    const again = await waitFor('a slot to free up', async () => {
      const socket = socketTo(b!.url, as('ada'));
      try {
        await connected(socket);
        return socket;
      } catch {
        socket.disconnect();
        return undefined;
      }
    });
    expect(again.connected).toBe(true);
  });

  it("gives a node's slots back when the node goes", async () => {
    const db = `limits-${++databases}`;
    const [a, b] = await startMongoGateways(mongo, db, ['gw-a', 'gw-b'], { MAX_SOCKETS_PER_USER: '1' });
    await connect(b!.url, as('ada'));
    expect((await connectError(socketTo(a!.url, as('ada')))).data?.code).toBe('TOO_MANY_SOCKETS');
    await b!.close();
    const client = await MongoClient.connect(mongo.uri);
    try {
      await waitFor(
        'the node to take its slots along',
        async () => (await client.db(db).collection(USER_SOCKETS_COLLECTION).countDocuments({ user: 'ada' })) === 0,
      );
    } finally {
      await client.close();
    }
    const socket: TestSocket = await connect(a!.url, as('ada'));
    expect(socket.connected).toBe(true);
  });
});

describe('the publish rate limit across two nodes', () => {
  it('allows PUBLISH_RATE_LIMIT_MAX per publisher and window for the whole cluster', async () => {
    const [a, b] = await startMongoGateways(mongo, `limits-${++databases}`, ['gw-a', 'gw-b'], {
      API_KEYS: API_KEY,
      PUBLISH_RATE_LIMIT_MAX: '3',
      PUBLISH_RATE_LIMIT_WINDOW_MS: '60000',
    });
    expect((await publish(a!.url, 'lobby', { text: '1' })).status).toBe(201);
    expect((await publish(b!.url, 'lobby', { text: '2' })).status).toBe(201);
    expect((await publish(a!.url, 'lobby', { text: '3' })).status).toBe(201);
    const fourth = await publish(b!.url, 'lobby', { text: '4' });
    expect(fourth).toMatchObject({ status: 429, body: { code: 'RATE_LIMITED' } });
    expect(Number(fourth.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await publish(a!.url, 'lobby', { text: '5' })).status).toBe(429);
  });
});
