import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdapter as createOfficialAdapter } from '@socket.io/mongo-adapter';
import { MongoClient } from 'mongodb';
import { Server } from 'socket.io';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAdapter } from '../src/index.js';
import { closeClients, connect, record, startMongo, waitFor, type Mongo, type Node } from './support.js';

/**
 * A rolling migration from @socket.io/mongo-adapter: while nodes are rolled over one at a time, an old
 * node and a new one share the collection and must hear each other (broadcasts, rooms, requests).
 */

let mongo: Mongo;
const clients: MongoClient[] = [];
const servers: Server[] = [];

beforeEach(async () => {
  mongo = await startMongo();
  const setup = new MongoClient(mongo.uri);
  await setup.connect();
  // As the official README sets it up: a capped collection.
  await setup.db(mongo.dbName).createCollection('events', { capped: true, size: 1e6 });
  await setup.close();
});

afterEach(async () => {
  closeClients();
  await Promise.all(servers.splice(0).map((io) => io.close()));
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await mongo.stop();
});

async function startNode(kind: 'official' | 'ours'): Promise<Node> {
  const client = new MongoClient(mongo.uri);
  await client.connect();
  clients.push(client);
  const collection = client.db(mongo.dbName).collection('events');
  const factory =
    kind === 'ours'
      ? createAdapter(collection, { heartbeatInterval: 200, heartbeatTimeout: 1000 })
      : createOfficialAdapter(collection as unknown as Parameters<typeof createOfficialAdapter>[0], {
          heartbeatInterval: 200,
          heartbeatTimeout: 1000,
        });
  const http = createServer();
  const io = new Server(http, { adapter: factory as never });
  servers.push(io);
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return {
    io,
    http,
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}`,
    client,
    collection,
    factory: factory as never,
    adapter: () => io.of('/').adapter as never,
    close: () => io.close() as unknown as Promise<void>,
  };
}

describe('an @socket.io/mongo-adapter node and a @switchyard/mongo-adapter node in one cluster', () => {
  it('count each other and broadcast both ways, to rooms included', async () => {
    const old = await startNode('official');
    const ours = await startNode('ours');
    await waitFor('each counts the other', async () => {
      const counts = await Promise.all([old.io.of('/').adapter.serverCount(), ours.io.of('/').adapter.serverCount()]);
      return counts[0] === 2 && counts[1] === 2;
    });
    const onOld = await connect(old);
    const onOurs = await connect(ours);
    const gotOld = record<string>(onOld, 'm');
    const gotOurs = record<string>(onOurs, 'm');
    ours.io.emit('m', 'from ours');
    old.io.emit('m', 'from old');
    await waitFor('both got both', () => gotOld.length === 2 && gotOurs.length === 2);
    expect([...gotOld].sort()).toEqual(['from old', 'from ours']);
    expect([...gotOurs].sort()).toEqual(['from old', 'from ours']);

    ours.io.in(onOld.id!).socketsJoin('mixed');
    await waitFor(
      'the old node applied socketsJoin',
      () => old.io.sockets.sockets.get(onOld.id!)?.rooms.has('mixed') === true,
    );
    const room = record<string>(onOld, 'r');
    ours.io.to('mixed').emit('r', 'to the room');
    await waitFor('the room member on the old node got it', () => room.length === 1);
  });

  it('answer each other’s requests: fetchSockets and serverSideEmit with acknowledgements', async () => {
    const old = await startNode('official');
    const ours = await startNode('ours');
    await waitFor('each counts the other', async () => {
      const counts = await Promise.all([old.io.of('/').adapter.serverCount(), ours.io.of('/').adapter.serverCount()]);
      return counts[0] === 2 && counts[1] === 2;
    });
    const onOld = await connect(old);
    const onOurs = await connect(ours);
    const ids = [onOld.id, onOurs.id].sort();
    expect((await ours.io.fetchSockets()).map((s) => s.id).sort()).toEqual(ids);
    expect((await old.io.fetchSockets()).map((s) => s.id).sort()).toEqual(ids);

    old.io.on('ping-old', (cb: (v: string) => void) => cb('pong from old'));
    ours.io.on('ping-ours', (cb: (v: string) => void) => cb('pong from ours'));
    expect(await ours.io.serverSideEmitWithAck('ping-old')).toEqual(['pong from old']);
    expect(await old.io.serverSideEmitWithAck('ping-ours')).toEqual(['pong from ours']);
  });
});
