import { MongoClient } from 'mongodb';
import { afterEach, describe, expect, it } from 'vitest';
import { createEmitter } from '../src/index.js';
import { closeClients, connect, record, startCluster, startMongo, waitFor, type Mongo, type Node } from './support.js';

/**
 * A message MongoDB refuses for good (here: a unique index the application added) is refused alone: a
 * skip record takes its sequence number, so no receiver waits for it and nothing after it is lost.
 */

let mongo: Mongo;
let nodes: Node[] = [];
let emitterClient: MongoClient | undefined;

afterEach(async () => {
  closeClients();
  await emitterClient?.close();
  emitterClient = undefined;
  await Promise.all(nodes.map((node) => node.close()));
  nodes = [];
  await mongo.stop();
});

async function clusterWithUniquePayloads(): Promise<[Node, Node]> {
  mongo = await startMongo();
  nodes = await startCluster(mongo, 2);
  // The second message with the same first argument is refused (E11000): permanently.
  await nodes[0]!.collection.createIndex({ 'data.packet.data.1': 1 }, { unique: true, sparse: true });
  return nodes as [Node, Node];
}

describe('documents MongoDB refuses for good', () => {
  it('are skipped by every receiver without a stall or a gap; the rest arrives in order', async () => {
    const [a, b] = await clusterWithUniquePayloads();
    const local = await connect(a);
    const remote = await connect(b);
    const gotLocal = record<string>(local, 'm');
    const gotRemote = record<string>(remote, 'm');
    const rejected: string[] = [];
    a.factory.events.on('rejected', (event) => {
      if (event.node === a.adapter().health().node) rejected.push(event.code);
    });
    const gaps: unknown[] = [];
    b.factory.events.on('gap', (gap) => gaps.push(gap));
    a.io.emit('m', 'x');
    a.io.emit('m', 'x');
    a.io.emit('m', 'y');
    await waitFor('the remote client got x and y', () => gotRemote.length === 2);
    await waitFor('the local client got all three', () => gotLocal.length === 3);
    expect(gotRemote).toEqual(['x', 'y']);
    expect(gotLocal).toEqual(['x', 'x', 'y']);
    expect(rejected).toEqual(['PUBLISH_FAILED']);
    expect(await a.collection.countDocuments({ kind: 'skip' })).toBe(1);
    a.io.emit('m', 'z');
    await waitFor('and what follows', () => gotRemote.length === 3);
    expect(gotRemote).toEqual(['x', 'y', 'z']);
    expect(gaps).toEqual([]);
  });

  it('an emitter rejects the refused emit and the next one still arrives', async () => {
    const [a, b] = await clusterWithUniquePayloads();
    const clients = [await connect(a), await connect(b)];
    const got = clients.map((client) => record<string>(client, 'e'));
    emitterClient = new MongoClient(mongo.uri);
    const emitter = createEmitter(emitterClient.db(mongo.dbName).collection('socket.io'));
    await emitter.emit('e', 'p');
    await expect(emitter.emit('e', 'p')).rejects.toMatchObject({ code: 'PUBLISH_FAILED' });
    await emitter.emit('e', 'q');
    await waitFor('both clients got p and q', () => got.every((g) => g.length === 2));
    expect(got).toEqual([
      ['p', 'q'],
      ['p', 'q'],
    ]);
    await emitter.close();
  });
});
