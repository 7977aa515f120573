import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MongoClient, type Collection, type Document } from 'mongodb';
import { Server, type ServerOptions } from 'socket.io';
import {
  io as connectClient,
  type Socket as ClientSocket,
  type ManagerOptions,
  type SocketOptions,
} from 'socket.io-client';
import { MongoStandIn } from '@switchyard/mongo-standin';
import {
  createAdapter,
  setupCollection,
  type MongoAdapter,
  type MongoAdapterFactory,
  type MongoAdapterOptions,
} from '../src/index.js';

/**
 * The suite runs on the stand-in, or on a real replica set when MONGODB_URI is set. Fault runs need the
 * stand-in's fault handle and are skipped (with a visible notice) on a real server.
 */
export const REAL_URI = process.env.MONGODB_URI;
export const onStandIn = REAL_URI === undefined;

let noticePrinted = false;
export function printTargetNotice(what: string): void {
  if (noticePrinted) return;
  noticePrinted = true;
  console.warn(
    REAL_URI
      ? `[mongo-adapter] MONGODB_URI is set: running against that replica set; ${what} SKIPPED (they need the stand-in's fault handle).`
      : '[mongo-adapter] running against the stand-in (set MONGODB_URI to run the same suite against a real replica set).',
  );
}

/** Fast settings: failures show up in ms rather than in the defaults' seconds. */
export const FAST: MongoAdapterOptions = {
  heartbeatInterval: 200,
  heartbeatTimeout: 1000,
  maxAwaitTimeMS: 50,
  backoff: { initialMs: 20, maxMs: 200 },
  localDeliveryTimeoutMs: 1000,
  closeTimeoutMs: 2000,
  operationTimeoutMs: 2000,
  logger: process.env.DEBUG_ADAPTER
    ? {
        debug:
          process.env.DEBUG_ADAPTER === 'trace'
            ? (obj: object, msg?: string) => console.log(Date.now() % 100000, msg, JSON.stringify(obj))
            : () => undefined,
        info: () => undefined,
        warn: (obj: object, msg?: string) => console.warn(msg, JSON.stringify(obj)),
        error: (obj: object, msg?: string) => console.error(msg, JSON.stringify(obj)),
      }
    : undefined,
};

export interface Mongo {
  uri: string;
  standIn: MongoStandIn | undefined;
  dbName: string;
  stop(): Promise<void>;
}

let dbCounter = 0;

export async function startMongo(options: Parameters<typeof MongoStandIn.start>[0] = {}): Promise<Mongo> {
  const dbName = `adapter_test_${process.pid}_${Date.now().toString(36)}_${dbCounter++}`;
  if (REAL_URI) {
    return {
      uri: REAL_URI,
      standIn: undefined,
      dbName,
      async stop() {
        const client = new MongoClient(REAL_URI);
        await client
          .db(dbName)
          .dropDatabase()
          .catch(() => undefined);
        await client.close();
      },
    };
  }
  const standIn = await MongoStandIn.start(options);
  return { uri: standIn.uri, standIn, dbName, stop: () => standIn.stop() };
}

export interface Node {
  io: Server;
  http: HttpServer;
  url: string;
  client: MongoClient;
  collection: Collection<Document>;
  factory: MongoAdapterFactory;
  adapter(nsp?: string): MongoAdapter;
  close(): Promise<void>;
}

export interface NodeOptions {
  adapter?: MongoAdapterOptions;
  server?: Partial<ServerOptions>;
  collectionName?: string;
  /** The MongoClient's appName: lets stand-in faults target one node (`failCommands({ appName })`). */
  appName?: string;
}

export async function startNode(mongo: Mongo, options: NodeOptions = {}): Promise<Node> {
  // One MongoClient per node, as if each ran in its own process.
  const client = new MongoClient(mongo.uri, {
    serverSelectionTimeoutMS: 5000,
    heartbeatFrequencyMS: 500,
    ...(options.appName ? { appName: options.appName } : {}),
  });
  await client.connect();
  const { collection, sessions } = await setupCollection(
    client.db(mongo.dbName),
    options.collectionName ?? 'socket.io',
    { ttlSeconds: 600 },
  );
  const factory = createAdapter(collection, { ...FAST, sessions, ...options.adapter });
  const http = createServer();
  const io = new Server(http, { adapter: factory, ...options.server });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  let closed = false;
  return {
    io,
    http,
    url: `http://127.0.0.1:${port}`,
    client,
    collection,
    factory,
    adapter: (nsp = '/') => io.of(nsp).adapter as unknown as MongoAdapter,
    async close() {
      if (closed) return;
      closed = true;
      await io.close();
      await client.close(true);
    },
  };
}

/** Starts `count` nodes and waits until each is ready and counts every other one. */
export async function startCluster(mongo: Mongo, count: number, options: NodeOptions = {}): Promise<Node[]> {
  const nodes: Node[] = [];
  for (let i = 0; i < count; i++) nodes.push(await startNode(mongo, { appName: `node-${i}`, ...options }));
  await waitForCluster(nodes);
  return nodes;
}

export async function waitForCluster(nodes: Node[], nsp = '/'): Promise<void> {
  await waitFor('every node ready and aware of the others', async () => {
    for (const node of nodes) {
      if (!node.adapter(nsp).health().ready) return false;
      if ((await node.adapter(nsp).serverCount()) !== nodes.length) return false;
    }
    return true;
  });
}

const openClients = new Set<ClientSocket>();

export async function connect(
  node: Node,
  nsp = '/',
  options: Partial<ManagerOptions & SocketOptions> = {},
  /** Runs before the connection opens: listeners for packets delivered right after connecting (recovery). */
  beforeConnect?: (socket: ClientSocket) => void,
): Promise<ClientSocket> {
  const socket = connectClient(`${node.url}${nsp}`, {
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
    ...options,
  });
  beforeConnect?.(socket);
  openClients.add(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  return socket;
}

export function closeClients(): void {
  for (const socket of openClients) socket.disconnect();
  openClients.clear();
}

/** Polls `condition` until it holds or the deadline passes. */
export async function waitFor(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Collects every payload of `event` on a client socket. */
export function record<T = unknown>(socket: ClientSocket, event: string): T[] {
  const received: T[] = [];
  socket.on(event, (...args: unknown[]) => received.push(args[0] as T));
  return received;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
