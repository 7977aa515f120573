import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { Long } from 'bson';
import { MongoClient } from 'mongodb';
import { afterEach, describe, expect, it } from 'vitest';
import { MongoStandIn } from '../src/index.js';
import { RawClient } from './raw-client.js';
import { clientOptions, waitFor } from './support.js';

/**
 * A dropped connection must look like a network failure to the client: a TCP reset it reads as ECONNRESET.
 * An orderly close (or a reset that arrives with unread reply bytes, which libuv reports as EOF) lets the
 * official driver write a command into a socket that is already destroyed but not yet 'close'd; that
 * command waits for 'drain' forever and the operation never settles.
 */
describe('dropped connections', () => {
  let mongo: MongoStandIn | undefined;
  const raws: RawClient[] = [];
  const clients: MongoClient[] = [];
  afterEach(async () => {
    raws.splice(0).forEach((r) => r.close());
    for (const client of clients.splice(0)) await client.close(true);
    await mongo?.stop();
    mongo = undefined;
  });
  const raw = async (standIn: MongoStandIn) => {
    const client = await RawClient.open(standIn.port);
    raws.push(client);
    return client;
  };

  it('resets a closed connection only after the client has read the replies already sent', async () => {
    mongo = await MongoStandIn.start();
    mongo.faults.failCommands({ commands: ['insert'], closeConnection: true });
    const client = await raw(mongo);
    const pong = client.reply();
    // Two pipelined commands: the ping is answered, then the insert closes the connection in the same turn.
    client.sendRaw(
      Buffer.concat([
        client.msgFrame({ ping: 1, $db: 'admin' }),
        client.msgFrame({ insert: 'c', documents: [{ a: 1 }], $db: 'test' }),
      ]),
    );
    expect(await pong).toMatchObject({ ok: 1 });
    await client.whenClosed;
    expect(client.ending).toEqual({ by: 'error', code: 'ECONNRESET' });
    expect(client.framesReceived).toBe(1);
    expect(mongo.counters.connectionsDropped).toBe(1);
  });

  it('dropConnections() resets idle connections and ones with a command in flight, answering none of them', async () => {
    mongo = await MongoStandIn.start();
    const idle = await raw(mongo);
    expect(await idle.msg({ ping: 1, $db: 'admin' })).toMatchObject({ ok: 1 });

    const watcher = await raw(mongo);
    const opened = await watcher.msg({
      aggregate: 'quiet',
      pipeline: [{ $changeStream: {} }],
      cursor: {},
      $db: 'test',
    });
    expect(opened).toMatchObject({ ok: 1 });
    const cursorId = Long.fromValue(opened.cursor.id as number | Long);
    const getMoresBefore = mongo.counters.commandsByName.getMore ?? 0;
    watcher.sendRaw(watcher.msgFrame({ getMore: cursorId, collection: 'quiet', maxTimeMS: 10_000, $db: 'test' }));

    mongo.faults.setWriteLatency(10_000); // the insert is applied, then its reply waits (a slow majority commit)
    const writer = await raw(mongo);
    writer.sendRaw(writer.msgFrame({ insert: 'c', documents: [{ a: 1 }], $db: 'test' }));
    await waitFor(
      'the getMore waiting and the insert applied',
      () => (mongo!.counters.commandsByName.getMore ?? 0) > getMoresBefore && mongo!.counters.writesDelayed === 1,
    );
    const framesBefore = [idle, watcher, writer].map((c) => c.framesReceived);

    expect(mongo.faults.dropConnections()).toBe(3);
    expect(mongo.faults.dropConnections()).toBe(0); // already dropped: not counted twice
    await Promise.all([idle, watcher, writer].map((c) => c.whenClosed));
    for (const client of [idle, watcher, writer]) expect(client.ending).toEqual({ by: 'error', code: 'ECONNRESET' });
    // The waiting getMore returns (empty) the moment its connection drops: a dropped connection does not
    // send that reply, nor anything else.
    expect([idle, watcher, writer].map((c) => c.framesReceived)).toEqual(framesBefore);
    expect(mongo.counters.connectionsDropped).toBe(3);
    await waitFor('the dropped connections to be closed', () => mongo!.counters.connectionsOpen === 0);
    const after = await raw(mongo);
    expect(await after.msg({ ping: 1, $db: 'admin' })).toMatchObject({ ok: 1 }); // new connections are served
  });

  it(
    'every driver operation settles while connections drop again and again under load',
    { timeout: 25_000 },
    async () => {
      mongo = await MongoStandIn.start();
      const standIn = mongo;
      for (let i = 0; i < 3; i++) {
        const client = new MongoClient(standIn.uri, { ...clientOptions, maxPoolSize: 4 });
        clients.push(client);
        await client.connect();
      }
      // Generous: a retried write may wait for server selection after a drop (heartbeat 500 ms).
      const SETTLE_BOUND_MS = 8_000;
      const unsettled = new Set<string>();
      const outcomes = { resolved: 0, rejected: 0 };
      async function settles<T>(what: string, operation: Promise<T>): Promise<void> {
        unsettled.add(what);
        let timer: NodeJS.Timeout | undefined;
        const bound = new Promise<'unsettled'>(
          (resolve) => (timer = setTimeout(() => resolve('unsettled'), SETTLE_BOUND_MS)),
        );
        const outcome = await Promise.race([
          operation.then(
            () => 'resolved' as const,
            () => 'rejected' as const,
          ),
          bound,
        ]);
        clearTimeout(timer);
        if (outcome !== 'unsettled') {
          unsettled.delete(what);
          outcomes[outcome] += 1;
        }
      }

      let running = true;
      const watchers = clients.map(async (client, c) => {
        const stream = client.db('stress').collection('events').watch([], { maxAwaitTimeMS: 20 });
        for (let n = 0; running; n++) {
          await settles(`watch ${c}/${n}`, stream.tryNext());
          if (stream.closed) break;
        }
        await stream.close().catch(() => undefined);
      });
      const writers = clients.flatMap((client, c) =>
        [0, 1, 2].map(async (w) => {
          const collection = client.db('stress').collection('events');
          for (let n = 0; running; n++) {
            const docs = Array.from({ length: 1 + (n % 3) }, (_, i) => ({ c, w, n, i }));
            await settles(`insertMany ${c}/${w}/${n}`, collection.insertMany(docs));
            // Idle for a few event-loop turns, so the next write starts from a check phase: the moment a
            // connection whose peer closed it in an orderly way is destroyed but not yet 'close'd.
            for (let turn = 0; turn <= (n + w) % 4; turn++) await nextTurn();
          }
        }),
      );

      const ROUNDS = 20;
      for (let round = 0; round < ROUNDS; round++) {
        // Let every client reconnect and write again, then drop whatever is open at that moment.
        const inserted = standIn.counters.commandsByName.insert ?? 0;
        await waitFor('writes to flow again', () => (standIn.counters.commandsByName.insert ?? 0) >= inserted + 6);
        await sleep(round % 4);
        standIn.faults.dropConnections();
      }
      running = false;
      await Promise.all([...watchers, ...writers]);

      expect([...unsettled]).toEqual([]);
      expect(standIn.counters.connectionsDropped).toBeGreaterThanOrEqual(ROUNDS);
      expect(outcomes.resolved).toBeGreaterThan(0);
    },
  );
});
