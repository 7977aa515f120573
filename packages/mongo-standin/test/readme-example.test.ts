import { MongoClient, type ChangeStreamInsertDocument } from 'mongodb';
import { expect, it } from 'vitest';
import { MongoStandIn } from '../src/index.js';

// The README's example, kept runnable: if this changes, change the README with it.
it('runs the README example: a failed getMore is resumed by the driver with nothing lost or repeated', async () => {
  const mongo = await MongoStandIn.start();
  const client = new MongoClient(mongo.uri);
  try {
    const messages = client.db('app').collection('messages');

    type Message = { n: number };
    const changes = messages.watch<Message, ChangeStreamInsertDocument<Message>>(
      [{ $match: { operationType: 'insert' } }],
      {
        maxAwaitTimeMS: 50,
      },
    );
    await changes.tryNext();

    mongo.faults.failCommands({ commands: ['getMore'], code: 91 });
    await messages.insertMany([{ n: 1 }, { n: 2 }]);
    const first = await changes.next();
    const second = await changes.next();
    expect([first.fullDocument.n, second.fullDocument.n]).toEqual([1, 2]);
    expect([mongo.counters.commandsFailed, mongo.counters.changeStreamsResumed]).toEqual([1, 1]);

    await changes.close();
  } finally {
    await client.close();
    await mongo.stop();
  }
});
