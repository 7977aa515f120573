import { MongoClient, type ChangeStream, type Document, type MongoClientOptions } from 'mongodb';
import { MongoStandIn, type MongoStandInOptions } from '../src/index.js';

/**
 * The same tests run against the stand-in and, when MONGODB_URI points at a real replica set, against it
 * too (fidelity check). Tests that need the stand-in's fault handle are skipped on the real target.
 */
export const REAL_URI = process.env.MONGODB_URI;

export type TargetKind = 'stand-in' | 'real';
export const targetKinds: TargetKind[] = REAL_URI ? ['stand-in', 'real'] : ['stand-in'];

let noticePrinted = false;
export function printTargetNotice(): void {
  if (noticePrinted) return;
  noticePrinted = true;
  const notice = REAL_URI
    ? '[mongo-standin] MONGODB_URI is set: these tests also run against that real replica set; fault-injection tests are skipped there (they need the stand-in handle).'
    : '[mongo-standin] MONGODB_URI is not set: the fidelity run against a real replica set is SKIPPED; tests run against the stand-in only.';
  console.warn(notice);
}

export interface Target {
  kind: TargetKind;
  client: MongoClient;
  /** A database name unique to this test, so runs against a shared real server do not collide. */
  dbName: string;
  /** Only on the stand-in target. */
  standIn?: MongoStandIn;
  close(): Promise<void>;
}

let dbCounter = 0;

/** Fast client settings: small waits so a broken resume fails the test quickly instead of hanging. */
export const clientOptions: MongoClientOptions = { serverSelectionTimeoutMS: 5_000, heartbeatFrequencyMS: 500 };

export async function openTarget(kind: TargetKind, options: MongoStandInOptions = {}): Promise<Target> {
  const dbName = `standin_test_${process.pid}_${Date.now().toString(36)}_${dbCounter++}`;
  if (kind === 'real') {
    const client = new MongoClient(REAL_URI!, clientOptions);
    await client.connect();
    return {
      kind,
      client,
      dbName,
      async close() {
        await client
          .db(dbName)
          .dropDatabase()
          .catch(() => undefined);
        await client.close();
      },
    };
  }
  const standIn = await MongoStandIn.start(options);
  const client = new MongoClient(standIn.uri, clientOptions);
  await client.connect();
  return {
    kind,
    client,
    dbName,
    standIn,
    async close() {
      await client.close(true);
      await standIn.stop();
    },
  };
}

/** Polls `condition` until it holds or the deadline passes (then throws with `what`). */
export async function waitFor(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 8_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Reads change events with tryNext() until `count` arrived or the deadline passed. */
export async function collectEvents<T extends Document>(
  stream: ChangeStream<T>,
  count: number,
  timeoutMs = 8_000,
): Promise<Document[]> {
  const events: Document[] = [];
  const deadline = Date.now() + timeoutMs;
  while (events.length < count && Date.now() < deadline) {
    const event = await stream.tryNext();
    if (event) events.push(event as Document);
  }
  return events;
}

/** Numbers carried by insert events' `fullDocument.n`, in delivery order. */
export function insertedNumbers(events: Document[]): number[] {
  return events.filter((e) => e.operationType === 'insert').map((e) => e.fullDocument.n as number);
}

export function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/**
 * Opens a stream and waits until the server has answered its aggregate (so writes made afterwards are
 * guaranteed to be seen). The driver sends the aggregate on first use; tryNext() forces it.
 */
export async function openStream<T extends Document>(open: () => ChangeStream<T>): Promise<ChangeStream<T>> {
  const stream = open();
  const early = await stream.tryNext();
  if (early) throw new Error(`unexpected change event before any write: ${JSON.stringify(early)}`);
  return stream;
}

/** The replica set as the target's primary describes it in hello. */
export async function describeSet(client: MongoClient): Promise<{ hello: Document; hosts: string[]; primary: string }> {
  const hello = await client.db('admin').command({ hello: 1 });
  return { hello, hosts: hello.hosts as string[], primary: hello.primary as string };
}

/** A client connected to one member alone (`directConnection=true`), closed by `close()`. */
export function directClient(address: string, options: MongoClientOptions = {}): MongoClient {
  return new MongoClient(`mongodb://${address}/?directConnection=true`, { ...clientOptions, ...options });
}

/** `host:port` split for raw sockets. */
export function hostAndPort(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(':');
  return { host: address.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(address.slice(at + 1)) };
}
