import { MongoClient, MongoWriteConcernError } from 'mongodb';
import { expect, it } from 'vitest';
import { MongoStandIn } from '../src/index.js';

// The README's replica-set example, kept runnable: if this changes, change the README with it.
it('runs the README replica-set example: a wtimeout, then a failover that rolls back the unreplicated write', async () => {
  const mongo = await MongoStandIn.start({ members: 3 });
  const client = new MongoClient(mongo.uri);
  try {
    const orders = client.db('shop').collection<{ _id: number }>('orders');

    mongo.faults.setReplicationLag(5_000);
    const error = await orders
      .insertOne({ _id: 1 }, { writeConcern: { w: 'majority', wtimeout: 100 } })
      .catch((e: unknown) => e);
    expect([error instanceof MongoWriteConcernError, (error as MongoWriteConcernError).code]).toEqual([true, 64]);
    expect(await orders.countDocuments()).toBe(1);

    mongo.faults.failover({ electionMs: 500, rollbackUnreplicated: true });
    mongo.faults.setReplicationLag(0);
    await orders.insertOne({ _id: 2 });
    expect([mongo.primary, mongo.term]).toEqual([1, 2]);
    expect(await orders.find().toArray()).toEqual([{ _id: 2 }]);
    expect(mongo.counters.rollbacks).toBe(1);
  } finally {
    await client.close();
    await mongo.stop();
  }
});
