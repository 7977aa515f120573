import { BSON, Binary, Long } from 'bson';
import { MongoClient } from 'mongodb';
import { afterEach, describe, expect, it } from 'vitest';
import { MongoStandIn } from '../src/index.js';
import { RawClient } from './raw-client.js';
import { waitFor } from './support.js';

describe('wire protocol', () => {
  let mongo: MongoStandIn;
  const raws: RawClient[] = [];
  afterEach(async () => {
    raws.splice(0).forEach((r) => r.close());
    await mongo?.stop();
  });
  const raw = async () => {
    const client = await RawClient.open(mongo.port);
    raws.push(client);
    return client;
  };

  it('answers the legacy OP_QUERY hello as the primary of a one-member replica set', async () => {
    mongo = await MongoStandIn.start();
    const client = await raw();
    const hello = await client.legacyQuery('admin.$cmd', { isMaster: 1, helloOk: true });
    expect(hello).toMatchObject({
      ok: 1,
      ismaster: true,
      helloOk: true,
      setName: 'rs0',
      hosts: [`127.0.0.1:${mongo.port}`],
      logicalSessionTimeoutMinutes: 30,
    });
    expect(hello.maxWireVersion).toBeGreaterThanOrEqual(9);
    expect(hello.$clusterTime.clusterTime._bsontype).toBe('Timestamp');
    expect(hello.operationTime._bsontype).toBe('Timestamp');
  });

  it('reads OP_MSG document sequences (kind 1), as the driver sends insert documents', async () => {
    mongo = await MongoStandIn.start();
    const client = await raw();
    const reply = await client.msg({ insert: 'c', $db: 'd' }, { id: 'documents', docs: [{ _id: 1 }, { _id: 2 }] });
    expect(reply).toMatchObject({ ok: 1, n: 2 });
    const found = await client.msg({ find: 'c', filter: {}, $db: 'd' });
    expect(found.cursor.firstBatch).toEqual([{ _id: 1 }, { _id: 2 }]);
  });

  it("gives unknown commands MongoDB's error shape and keeps serving", async () => {
    mongo = await MongoStandIn.start();
    const client = await raw();
    const reply = await client.msg({ frobnicate: 1, $db: 'admin' });
    expect(reply).toMatchObject({
      ok: 0,
      code: 59,
      codeName: 'CommandNotFound',
      errmsg: "no such command: 'frobnicate'",
    });
    expect(reply.operationTime).toBeDefined();
    expect(await client.msg({ ping: 1, $db: 'admin' })).toMatchObject({ ok: 1 });
    expect(await client.msg({ ping: 1 })).toMatchObject({ ok: 0, code: 40571 });
  });

  it('answers an OP_MSG with a broken BSON body with an error reply, not a hang', async () => {
    mongo = await MongoStandIn.start();
    const client = await raw();
    const body = Buffer.from(BSON.serialize({ ping: 1, $db: 'admin' }));
    body.writeInt32LE(body.length + 50, 0); // claims more bytes than the section has
    const reply = client.reply();
    client.sendRaw(client.frame(2013, Buffer.concat([Buffer.alloc(4), Buffer.from([0]), body])));
    expect(await reply).toMatchObject({ ok: 0, code: 22, codeName: 'InvalidBSON' });
    const badKind = client.reply();
    client.sendRaw(client.frame(2013, Buffer.concat([Buffer.alloc(4), Buffer.from([7]), Buffer.alloc(8)])));
    expect(await badKind).toMatchObject({ ok: 0, code: 9 });
    expect(await client.msg({ ping: 1, $db: 'admin' })).toMatchObject({ ok: 1 });
    expect(mongo.counters.malformedMessages).toBe(2);
  });

  it('closes connections that send impossible lengths or unknown opcodes, and keeps serving others', async () => {
    mongo = await MongoStandIn.start();
    const garbage = await raw();
    garbage.sendRaw(Buffer.from([0xff, 0xff, 0xff, 0x7f, 1, 2, 3, 4]));
    const unknownOp = await raw();
    unknownOp.sendRaw(unknownOp.frame(2012, Buffer.alloc(16)));
    await waitFor('both bad connections to be closed', () => garbage.closed && unknownOp.closed);
    const good = await raw();
    expect(await good.msg({ ping: 1, $db: 'admin' })).toMatchObject({ ok: 1 });
    expect(mongo.counters.malformedMessages).toBe(2);
  });

  it('answers a retried write (same lsid and txnNumber) from its record instead of applying it twice', async () => {
    mongo = await MongoStandIn.start();
    const client = await raw();
    const lsid = { id: new Binary(Buffer.alloc(16, 7), 4) };
    const insert = { insert: 'c', documents: [{ v: 1 }], lsid, txnNumber: Long.fromNumber(1), $db: 'd' };
    expect(await client.msg(insert)).toMatchObject({ ok: 1, n: 1 });
    expect(await client.msg(insert)).toMatchObject({ ok: 1, n: 1 });
    expect(await client.msg({ count: 'c', $db: 'd' })).toMatchObject({ n: 1 });
    expect(mongo.counters.retriedWritesDeduplicated).toBe(1);
    expect(await client.msg({ ...insert, txnNumber: Long.fromNumber(2) })).toMatchObject({ n: 1 });
    expect(await client.msg({ count: 'c', $db: 'd' })).toMatchObject({ n: 2 });
  });

  it('starts on an ephemeral port, restarts on the same one, and is reusable after stop', async () => {
    mongo = await MongoStandIn.start({ port: 0 });
    const port = mongo.port;
    expect(port).toBeGreaterThan(0);
    expect(mongo.uri).toBe(`mongodb://127.0.0.1:${port}/?replicaSet=rs0`);
    await mongo.restart();
    expect(mongo.port).toBe(port);
    const client = await raw();
    expect(await client.msg({ ping: 1, $db: 'admin' })).toMatchObject({ ok: 1 });
    await mongo.stop();
    await mongo.stop(); // idempotent
    mongo = await MongoStandIn.start({ port });
    expect(mongo.port).toBe(port);
  });

  it('rejects bad fault arguments with a coded error', async () => {
    mongo = await MongoStandIn.start();
    expect(() => mongo.faults.stepDown(-1)).toThrow(expect.objectContaining({ code: 'STANDIN_INVALID_OPTION' }));
    expect(() => mongo.faults.failCommands({ commands: [] })).toThrow(
      expect.objectContaining({ code: 'STANDIN_INVALID_OPTION' }),
    );
    expect(() => mongo.faults.failCommands({ commands: ['find'] })).toThrow(
      expect.objectContaining({ code: 'STANDIN_INVALID_OPTION' }),
    );
    await expect(MongoStandIn.start({ oplogSize: 0 })).rejects.toMatchObject({ code: 'STANDIN_INVALID_OPTION' });
  });
});
