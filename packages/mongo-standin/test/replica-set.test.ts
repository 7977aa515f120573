import { MongoClient, MongoServerError, type CommandStartedEvent, type Document } from 'mongodb';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MongoStandIn } from '../src/index.js';
import { RawClient } from './raw-client.js';
import {
  clientOptions,
  describeSet,
  directClient,
  hostAndPort,
  openTarget,
  printTargetNotice,
  targetKinds,
  waitFor,
  type Target,
} from './support.js';

beforeAll(() => printTargetNotice());

const bsonType = (value: unknown) => (value as { _bsontype?: string } | undefined)?._bsontype;

/**
 * A replica set as drivers see it. Sources: the server-discovery-and-monitoring spec (hello fields, electionId /
 * setVersion, topologyVersion, "State Change Error"), server-monitoring.md (awaitable and streaming hello), the
 * server-selection spec, and https://www.mongodb.com/docs/manual/reference/command/hello/.
 */
describe.each(targetKinds)('a replica set of several members (%s)', (kind) => {
  const faultTest = it.skipIf(kind === 'real');
  let target: Target;
  const extra: Array<MongoClient | RawClient> = [];
  afterEach(async () => {
    for (const client of extra.splice(0)) {
      if (client instanceof RawClient) client.close();
      else await client.close(true);
    }
    await target?.close();
  });

  const direct = (address: string) => {
    const client = directClient(address);
    extra.push(client);
    return client;
  };

  it('reports the set in hello as mongod does: hosts, primary, me, setVersion, electionId on the primary, topologyVersion, lastWrite', async () => {
    target = await openTarget(kind, { members: 3 });
    const { hello, hosts, primary } = await describeSet(target.client);
    if (target.standIn) expect(hosts).toEqual(target.standIn.members.map((m) => m.address));
    expect(hosts).toContain(primary);
    const byMember = await Promise.all(hosts.map((host) => direct(host).db('admin').command({ hello: 1 })));
    for (const [i, reply] of byMember.entries()) {
      const isPrimary = hosts[i] === primary;
      expect(reply).toMatchObject({
        hosts,
        setName: hello.setName,
        setVersion: hello.setVersion,
        isWritablePrimary: isPrimary,
        secondary: !isPrimary,
        primary,
        me: hosts[i],
      });
      expect(bsonType(reply.topologyVersion.processId)).toBe('ObjectId');
      expect(Number(reply.topologyVersion.counter)).toBeGreaterThanOrEqual(0);
      expect(bsonType(reply.lastWrite.opTime.ts)).toBe('Timestamp');
      expect(bsonType(reply.lastWrite.majorityOpTime.ts)).toBe('Timestamp');
      // Only a primary reports an electionId (SDAM: "an ObjectId, if this is a replica set member that believes it is primary").
      if (isPrimary) expect(bsonType(reply.electionId)).toBe('ObjectId');
      else expect(reply.electionId).toBeUndefined();
    }
  });

  it('the driver discovers every member from the URI and sends secondary reads to a secondary (server-selection spec)', async (ctx) => {
    target = await openTarget(kind, { members: 3 });
    const { hosts, primary } = await describeSet(target.client);
    if (hosts.length < 2) ctx.skip();
    const coll = target.client.db(target.dbName).collection('reads');
    await coll.insertOne({ n: 1 }, { writeConcern: { w: hosts.length } });
    const uri = target.standIn?.uri ?? process.env.MONGODB_URI!;
    const client = new MongoClient(uri, { ...clientOptions, readPreference: 'secondary', monitorCommands: true });
    extra.push(client);
    const finds: CommandStartedEvent[] = [];
    client.on('commandStarted', (event) => event.commandName === 'find' && finds.push(event));
    const docs = await client
      .db(target.dbName)
      .collection('reads')
      .find({}, { projection: { _id: 0 } })
      .toArray();
    expect(docs).toEqual([{ n: 1 }]);
    expect(finds).toHaveLength(1);
    expect(finds[0]!.address).not.toBe(primary);
    expect(hosts).toContain(finds[0]!.address);
    expect(finds[0]!.command.$readPreference).toEqual({ mode: 'secondary' });
  });

  it('a secondary refuses writes with NotWritablePrimary (10107) and reads without secondaryOk with NotPrimaryNoSecondaryOk (13435), each with its topologyVersion', async (ctx) => {
    target = await openTarget(kind, { members: 3 });
    const { hosts, primary } = await describeSet(target.client);
    const secondary = hosts.find((h) => h !== primary);
    if (!secondary) return ctx.skip();
    const write = (await direct(secondary)
      .db(target.dbName)
      .collection('refused')
      .insertOne({ n: 1 })
      .catch((e: unknown) => e)) as MongoServerError;
    expect(write).toBeInstanceOf(MongoServerError);
    expect(write.code).toBe(10107);
    // A driver's direct connection always asks for secondaryOk (server-selection spec, topology type Single),
    // so a bare OP_MSG shows what a read without it gets.
    const { host, port } = hostAndPort(secondary);
    const raw = await RawClient.open(port, host);
    extra.push(raw);
    const read = await raw.msg({ find: 'refused', filter: {}, $db: target.dbName });
    expect(read).toMatchObject({ ok: 0, code: 13435, codeName: 'NotPrimaryNoSecondaryOk' });
    expect(bsonType(read.topologyVersion.processId)).toBe('ObjectId');
    const allowed = await raw.msg({
      find: 'refused',
      filter: {},
      $readPreference: { mode: 'secondaryPreferred' },
      $db: target.dbName,
    });
    expect(allowed).toMatchObject({ ok: 1 });
  });

  it('replSetGetStatus, replSetGetConfig and serverStatus.repl describe every member', async () => {
    target = await openTarget(kind, { members: 3 });
    const admin = target.client.db('admin');
    const { hosts, primary } = await describeSet(target.client);
    const status = await admin.command({ replSetGetStatus: 1 });
    expect(status.members.map((m: Document) => m.name)).toEqual(hosts);
    expect(status.members.find((m: Document) => m.name === primary)).toMatchObject({ state: 1, stateStr: 'PRIMARY' });
    expect(status.members.filter((m: Document) => m.stateStr === 'SECONDARY')).toHaveLength(hosts.length - 1);
    expect(status.myState).toBe(1);
    const { config } = await admin.command({ replSetGetConfig: 1 });
    expect(config.members.map((m: Document) => m.host)).toEqual(hosts);
    expect(config._id).toBe(status.set);
    const serverStatus = await admin.command({ serverStatus: 1 });
    expect(serverStatus.repl).toMatchObject({ setName: status.set, isWritablePrimary: true, primary, hosts });
  });

  it("the driver's monitors stream hellos: awaitable hello with topologyVersion (server-monitoring spec)", async () => {
    target = await openTarget(kind, { members: 3 });
    const uri = target.standIn?.uri ?? process.env.MONGODB_URI!;
    const client = new MongoClient(uri, { ...clientOptions, heartbeatFrequencyMS: 500 });
    extra.push(client);
    const awaited: boolean[] = [];
    client.on('serverHeartbeatSucceeded', (event) => awaited.push(event.awaited));
    await client.connect();
    await waitFor('a streamed hello reply', () => awaited.includes(true));
  });

  faultTest('each member has its own copy of the data: a lagging secondary shows only what reached it', async () => {
    target = await openTarget(kind, { members: 3 });
    const mongo = target.standIn!;
    const [, second, third] = mongo.members;
    mongo.faults.setReplicationLag(60_000, 2);
    const coll = target.client.db(target.dbName).collection('copies');
    await coll.insertOne({ n: 1 }); // w: 'majority' (mongod's default) is met by members 0 and 1
    const readOn = (address: string) =>
      direct(address)
        .db(target.dbName)
        .collection('copies')
        .find({}, { projection: { _id: 0 } })
        .toArray();
    expect(await readOn(second!.address)).toEqual([{ n: 1 }]);
    expect(await readOn(third!.address)).toEqual([]);
    mongo.faults.setReplicationLag(0, 2);
    expect(await readOn(third!.address)).toEqual([{ n: 1 }]);
    expect(mongo.counters.entriesReplicated).toBeGreaterThan(0);
  });

  faultTest('indexes replicate too: a unique index holds on a secondary that becomes primary', async () => {
    target = await openTarget(kind, { members: 3 });
    const mongo = target.standIn!;
    const coll = target.client.db(target.dbName).collection('unique');
    await coll.createIndex({ key: 1 }, { unique: true, name: 'key_unique' });
    await coll.insertOne({ key: 'a' });
    const names = (
      await direct(mongo.members[1]!.address).db(target.dbName).collection('unique').listIndexes().toArray()
    ).map((index: Document) => index.name);
    expect(names).toEqual(['_id_', 'key_unique']);
    mongo.faults.failover({ electionMs: 50, to: 1 });
    await waitFor('member 1 to be primary', () => mongo.primary === 1);
    await expect(coll.insertOne({ key: 'a' })).rejects.toMatchObject({ code: 11000 });
  });

  faultTest(
    'a step-down raises the topologyVersion counter, which a waiting awaitable hello reports at once',
    async () => {
      target = await openTarget(kind, { members: 1 });
      const mongo = target.standIn!;
      const { port } = hostAndPort(mongo.members[0]!.address);
      const raw = await RawClient.open(port);
      extra.push(raw);
      const first = await raw.msg({ hello: 1, $db: 'admin' });
      // An awaitable hello: answered when the topology changes, or after maxAwaitTimeMS (here: far away).
      const waiting = raw.msg({
        hello: 1,
        topologyVersion: first.topologyVersion,
        maxAwaitTimeMS: 60_000,
        $db: 'admin',
      });
      mongo.faults.stepDown(200);
      const changed = await waiting;
      expect(changed.topologyVersion.processId).toEqual(first.topologyVersion.processId);
      expect(Number(changed.topologyVersion.counter)).toBeGreaterThan(Number(first.topologyVersion.counter));
      expect(changed).toMatchObject({ isWritablePrimary: false, secondary: true });
    },
  );
});

describe('MongoStandIn.start({ members })', () => {
  let mongo: MongoStandIn | undefined;
  afterEach(async () => {
    await mongo?.stop();
    mongo = undefined;
  });

  it('puts every member in the URI, each on its own port, the first one primary', async () => {
    mongo = await MongoStandIn.start({ members: 3 });
    const ports = mongo.members.map((m) => m.port);
    expect(new Set(ports).size).toBe(3);
    expect(mongo.uri).toBe(`mongodb://${mongo.members.map((m) => m.address).join(',')}/?replicaSet=rs0`);
    expect(mongo.members.map((m) => m.state)).toEqual(['PRIMARY', 'SECONDARY', 'SECONDARY']);
    expect(mongo.primary).toBe(0);
  });

  it('refuses a member count it cannot run, with a typed error', async () => {
    await expect(MongoStandIn.start({ members: 0 })).rejects.toMatchObject({ code: 'STANDIN_INVALID_OPTION' });
    await expect(MongoStandIn.start({ members: 2.5 })).rejects.toMatchObject({ code: 'STANDIN_INVALID_OPTION' });
    await expect(MongoStandIn.start({ ttlMonitorIntervalMs: 0 })).rejects.toMatchObject({
      code: 'STANDIN_INVALID_OPTION',
    });
  });
});
