import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MongoClient, type Collection } from 'mongodb';
import { Server, type Socket as ServerSocket } from 'socket.io';
import { io as connectClient, type Socket as ClientSocket } from 'socket.io-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAdapter, type MongoAdapter } from '../src/index.js';
import { startMongo, waitFor, type Mongo } from './support.js';

/**
 * The behaviour `@socket.io/mongo-adapter`'s own test suite checks (its test/index.ts and
 * test/connection-state-recovery.ts), re-written for this adapter and run as a migrating user would:
 * three servers sharing ONE MongoClient, on a capped collection the user created as the official README
 * says (1 MB), `createAdapter(collection)` with the official defaults (no options at all).
 */

const NODES = 3;
let mongo: Mongo;
let mongoClient: MongoClient;
let collection: Collection;
let servers: Server[] = [];
let ports: number[] = [];

async function userCollection(): Promise<Collection> {
  const db = mongoClient.db(mongo.dbName);
  await db.createCollection('events', { capped: true, size: 1e6 });
  return db.collection('events');
}

async function startServers(options: ConstructorParameters<typeof Server>[1] = {}): Promise<void> {
  for (let i = 0; i < NODES; i++) {
    const http = createServer();
    const io = new Server(http, options);
    io.adapter(createAdapter(collection) as unknown as Parameters<Server['adapter']>[0]);
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    servers.push(io);
    ports.push((http.address() as AddressInfo).port);
  }
  await waitFor('every node counts the others', async () => {
    for (const io of servers) if ((await io.of('/').adapter.serverCount()) !== NODES) return false;
    return true;
  });
}

const adapterOf = (io: Server, nsp = '/') => io.of(nsp).adapter as unknown as MongoAdapter;

beforeEach(async () => {
  mongo = await startMongo();
  mongoClient = new MongoClient(mongo.uri);
  await mongoClient.connect();
  collection = await userCollection();
});

afterEach(async () => {
  await Promise.all(servers.map((io) => io.close()));
  servers = [];
  ports = [];
  await mongoClient.close();
  await mongo.stop();
});

describe('@socket.io/mongo-adapter test suite, ported', () => {
  let serverSockets: ServerSocket[];
  let clientSockets: ClientSocket[];

  beforeEach(async () => {
    await startServers();
    serverSockets = [];
    clientSockets = [];
    for (let i = 0; i < NODES; i++) {
      const connected = new Promise<ServerSocket>((resolve) => servers[i]!.once('connection', resolve));
      const client = connectClient(`http://127.0.0.1:${ports[i]}`, { transports: ['websocket'], forceNew: true });
      clientSockets.push(client);
      serverSockets.push(await connected);
    }
  });

  afterEach(() => {
    for (const client of clientSockets) client.disconnect();
  });

  /** Resolves with what each listed client received for `event`, once each got `count`. */
  function collect(event: string, count = 1, which = clientSockets): Promise<unknown[][][]> {
    return Promise.all(
      which.map(
        (client) =>
          new Promise<unknown[][]>((resolve) => {
            const got: unknown[][] = [];
            client.on(event, (...args: unknown[]) => {
              got.push(args);
              if (got.length === count) resolve(got);
            });
          }),
      ),
    );
  }

  describe('broadcast', () => {
    it('broadcasts to all clients, binary included', async () => {
      const received = collect('test');
      servers[0]!.emit('test', 1, '2', Buffer.from([3, 4]));
      for (const got of await received) {
        const [a, b, c] = got[0]!;
        expect(a).toBe(1);
        expect(b).toBe('2');
        expect([...new Uint8Array(c as ArrayBuffer)]).toEqual([3, 4]);
      }
    });

    it('broadcasts to all clients in a namespace', async () => {
      for (const io of servers) io.of('/custom');
      const custom = clientSockets.map((client) => client.io.socket('/custom'));
      await Promise.all(custom.map((socket) => new Promise((resolve) => socket.on('connect', () => resolve(null)))));
      await waitFor('the /custom adapters count each other', async () => {
        for (const io of servers) if ((await io.of('/custom').adapter.serverCount()) !== NODES) return false;
        return true;
      });
      const received = collect('test', 1, custom);
      servers[0]!.of('/custom').emit('test');
      expect(await received).toHaveLength(3);
      for (const socket of custom) socket.disconnect();
      await Promise.all(servers.map((io) => io.of('/custom').adapter.close()));
    });

    it('broadcasts to all clients in a room', async () => {
      void serverSockets[1]!.join('room1');
      const others: string[] = [];
      clientSockets[0]!.on('test', () => others.push('0'));
      clientSockets[2]!.on('test', () => others.push('2'));
      const received = collect('test', 1, [clientSockets[1]!]);
      servers[0]!.to('room1').emit('test');
      await received;
      const after = collect('after');
      servers[0]!.emit('after');
      await after;
      expect(others).toEqual([]);
    });

    it('broadcasts to all clients except in room', async () => {
      void serverSockets[1]!.join('room1');
      const inRoom: string[] = [];
      clientSockets[1]!.on('test', () => inRoom.push('1'));
      const received = collect('test', 1, [clientSockets[0]!, clientSockets[2]!]);
      servers[0]!.of('/').except('room1').emit('test');
      await received;
      const after = collect('after');
      servers[0]!.emit('after');
      await after;
      expect(inRoom).toEqual([]);
    });

    it('broadcasts to local clients only', async () => {
      const others: string[] = [];
      clientSockets[1]!.on('test', () => others.push('1'));
      clientSockets[2]!.on('test', () => others.push('2'));
      const received = collect('test', 1, [clientSockets[0]!]);
      servers[0]!.local.emit('test');
      await received;
      const after = collect('after');
      servers[0]!.emit('after');
      await after;
      expect(others).toEqual([]);
    });

    it('broadcasts with multiple acknowledgements', async () => {
      clientSockets.forEach((client, i) => client.on('test', (cb: (n: number) => void) => cb(i + 1)));
      const responses = (await servers[0]!.timeout(500).emitWithAck('test')) as number[];
      expect([...responses].sort()).toEqual([1, 2, 3]);
    });

    it('broadcasts with multiple acknowledgements (binary content)', async () => {
      clientSockets.forEach((client, i) => client.on('test', (cb: (b: Buffer) => void) => cb(Buffer.from([i]))));
      const responses = (await servers[0]!.timeout(500).emitWithAck('test')) as Buffer[];
      expect(responses).toHaveLength(3);
      for (const response of responses) expect(Buffer.isBuffer(response)).toBe(true);
    });

    it('broadcasts with multiple acknowledgements (no client)', async () => {
      expect(await servers[0]!.to('abc').timeout(500).emitWithAck('test')).toEqual([]);
    });

    it('broadcasts with multiple acknowledgements (timeout)', async () => {
      clientSockets[0]!.on('test', (cb: (n: number) => void) => cb(1));
      clientSockets[1]!.on('test', (cb: (n: number) => void) => cb(2));
      clientSockets[2]!.on('test', () => undefined);
      const outcome = await new Promise<{ err: Error | null; responses: number[] }>((resolve) =>
        servers[0]!.timeout(500).emit('test', (err: Error | null, responses: number[]) => resolve({ err, responses })),
      );
      expect(outcome.err).toBeInstanceOf(Error);
      expect([...outcome.responses].sort()).toEqual([1, 2]);
    });
  });

  describe('socketsJoin / socketsLeave / disconnectSockets', () => {
    it('makes all socket instances join the specified room', async () => {
      servers[0]!.socketsJoin('room1');
      await waitFor('all joined', () => serverSockets.every((s) => s.rooms.has('room1')));
    });

    it('makes the matching socket instances join the specified room', async () => {
      void serverSockets[0]!.join('room1');
      void serverSockets[2]!.join('room1');
      servers[0]!.in('room1').socketsJoin('room2');
      await waitFor(
        '0 and 2 joined',
        () => serverSockets[0]!.rooms.has('room2') && serverSockets[2]!.rooms.has('room2'),
      );
      servers[0]!.socketsJoin('sentinel');
      await waitFor('the sentinel everywhere', () => serverSockets.every((s) => s.rooms.has('sentinel')));
      expect(serverSockets[1]!.rooms.has('room2')).toBe(false);
    });

    it('makes the given socket instance join the specified room', async () => {
      servers[0]!.in(serverSockets[1]!.id).socketsJoin('room3');
      await waitFor('1 joined', () => serverSockets[1]!.rooms.has('room3'));
      servers[0]!.socketsJoin('sentinel');
      await waitFor('the sentinel everywhere', () => serverSockets.every((s) => s.rooms.has('sentinel')));
      expect(serverSockets.map((s) => s.rooms.has('room3'))).toEqual([false, true, false]);
    });

    it('makes all socket instances leave the specified room', async () => {
      void serverSockets[0]!.join('room1');
      void serverSockets[2]!.join('room1');
      servers[0]!.socketsLeave('room1');
      await waitFor('all left', () => serverSockets.every((s) => !s.rooms.has('room1')));
    });

    it('makes the matching socket instances leave the specified room', async () => {
      void serverSockets[0]!.join(['room1', 'room2']);
      void serverSockets[1]!.join(['room1', 'room2']);
      void serverSockets[2]!.join(['room2']);
      servers[0]!.in('room1').socketsLeave('room2');
      await waitFor(
        '0 and 1 left',
        () => !serverSockets[0]!.rooms.has('room2') && !serverSockets[1]!.rooms.has('room2'),
      );
      servers[0]!.socketsJoin('sentinel');
      await waitFor('the sentinel everywhere', () => serverSockets.every((s) => s.rooms.has('sentinel')));
      expect(serverSockets[2]!.rooms.has('room2')).toBe(true);
    });

    it('makes the given socket instance leave the specified room', async () => {
      for (const socket of serverSockets) void socket.join('room3');
      servers[0]!.in(serverSockets[1]!.id).socketsLeave('room3');
      await waitFor('1 left', () => !serverSockets[1]!.rooms.has('room3'));
      servers[0]!.socketsJoin('sentinel');
      await waitFor('the sentinel everywhere', () => serverSockets.every((s) => s.rooms.has('sentinel')));
      expect(serverSockets.map((s) => s.rooms.has('room3'))).toEqual([true, false, true]);
    });

    it('makes all socket instances disconnect', async () => {
      const reasons = Promise.all(
        clientSockets.map((client) => new Promise<string>((resolve) => client.on('disconnect', resolve))),
      );
      servers[0]!.disconnectSockets();
      expect(await reasons).toEqual(['io server disconnect', 'io server disconnect', 'io server disconnect']);
    });
  });

  describe('fetchSockets', () => {
    it('returns all socket instances', async () => {
      const sockets = await servers[0]!.fetchSockets();
      expect(sockets).toHaveLength(3);
    });

    it('returns a single socket instance, with its handshake and data', async () => {
      serverSockets[1]!.data = 'test';
      const [remote] = await servers[0]!.in(serverSockets[1]!.id).fetchSockets();
      expect(remote!.handshake).toEqual(serverSockets[1]!.handshake);
      expect(remote!.data).toBe('test');
      expect(remote!.rooms.size).toBe(1);
    });

    it('returns only local socket instances', async () => {
      expect(await servers[0]!.local.fetchSockets()).toHaveLength(1);
    });
  });

  describe('serverSideEmit', () => {
    it('sends an event to other server instances', async () => {
      const self: unknown[] = [];
      servers[0]!.on('hello', (...args: unknown[]) => self.push(args));
      const received = Promise.all([
        new Promise<unknown[]>((resolve) => servers[1]!.on('hello', (...args: unknown[]) => resolve(args))),
        new Promise<unknown[]>((resolve) => servers[2]!.of('/').on('hello', (...args: unknown[]) => resolve(args))),
      ]);
      servers[0]!.serverSideEmit('hello', 'world', 1, '2');
      expect(await received).toEqual([
        ['world', 1, '2'],
        ['world', 1, '2'],
      ]);
      expect(self).toEqual([]);
    });

    it('sends an event and receives a response from the other server instances', async () => {
      servers[1]!.on('hello', (cb: (v: unknown) => void) => cb(2));
      servers[2]!.on('hello', (cb: (v: unknown) => void) => cb('3'));
      const response = await new Promise<{ err: Error | null; response: unknown[] }>((resolve) =>
        servers[0]!.serverSideEmit('hello', (err: Error | null, response: unknown[]) => resolve({ err, response })),
      );
      expect(response.err).toBeNull();
      expect(response.response).toEqual(expect.arrayContaining([2, '3']));
    });

    it('times out after requestsTimeout when a server does not respond, with the official error text', async () => {
      adapterOf(servers[0]!).requestsTimeout = 200;
      servers[1]!.on('hello', (cb: (v: unknown) => void) => cb(2));
      servers[2]!.on('hello', () => undefined);
      const outcome = await new Promise<{ err: Error | null; response: unknown[] }>((resolve) =>
        servers[0]!.serverSideEmit('hello', (err: Error | null, response: unknown[]) => resolve({ err, response })),
      );
      expect(outcome.err?.message).toBe('timeout reached: only 1 responses received out of 2');
      expect(outcome.response).toEqual([2]);
    });
  });

  it('does not throw when the collection is dropped, and keeps working', async () => {
    await mongoClient.db(mongo.dbName).dropCollection('events');
    const received = collect('after-drop');
    servers[1]!.emit('after-drop');
    expect(await received).toHaveLength(3);
  });

  it('resumes the change stream when the MongoClient reconnects', async () => {
    await mongoClient.close(true);
    await mongoClient.connect();
    const received = Promise.all([
      new Promise((resolve) => clientSockets[1]!.on('test2', resolve)),
      new Promise((resolve) => clientSockets[2]!.on('test3', resolve)),
      new Promise((resolve) => clientSockets[0]!.on('test1', resolve)),
    ]);
    servers[0]!.to(serverSockets[1]!.id).emit('test2');
    servers[1]!.to(serverSockets[2]!.id).emit('test3');
    servers[2]!.to(serverSockets[0]!.id).emit('test1');
    await received;
  });
});

describe('@socket.io/mongo-adapter connection state recovery suite, ported', () => {
  beforeEach(async () => {
    await startServers({
      pingInterval: 1500,
      pingTimeout: 1600,
      connectionStateRecovery: { maxDisconnectionDuration: 5000 },
    });
  });

  const clients: ClientSocket[] = [];
  afterEach(() => {
    for (const client of clients.splice(0)) client.disconnect();
  });

  function client(index: number, options: Record<string, unknown> = {}): ClientSocket {
    const socket = connectClient(`http://127.0.0.1:${ports[index]}`, {
      reconnectionDelay: 20,
      forceNew: true,
      ...options,
    });
    clients.push(socket);
    return socket;
  }

  it('restores the session', async () => {
    const socket = client(0);
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    expect(socket.recovered).toBe(false);
    const initialId = socket.id;
    await new Promise<void>((resolve) => {
      socket.once('init', () => resolve());
      servers[0]!.emit('init');
    });
    const reconnected = new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.io.engine.close();
    await reconnected;
    expect(socket.recovered).toBe(true);
    expect(socket.id).toBe(initialId);
  });

  it('restores any missed packets, and only those for the session', async () => {
    servers[0]!.once('connection', (serverSocket) => {
      void serverSocket.join('room1');
      serverSocket.on('disconnect', () => {
        serverSocket.emit('myEvent', 1);
        servers[0]!.emit('myEvent', 2);
        servers[0]!.to('room1').emit('myEvent', 3);
        servers[0]!.to('room2').emit('myEvent', 4);
        servers[0]!.except('room1').emit('myEvent', 5);
      });
    });
    const socket = client(0);
    const events: number[] = [];
    socket.on('myEvent', (n: number) => events.push(n));
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    await new Promise<void>((resolve) => {
      socket.once('init', () => resolve());
      servers[1]!.emit('init');
    });
    const reconnected = new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.io.engine.close();
    await reconnected;
    expect(socket.recovered).toBe(true);
    const sentinel = new Promise<void>((resolve) => socket.once('sentinel', () => resolve()));
    servers[0]!.emit('sentinel');
    await sentinel;
    expect(events).toEqual([1, 2, 3]);
  });

  it('fails to restore an unknown session (invalid session ID)', async () => {
    const socket = client(0);
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    Object.assign(socket, { _pid: 'abc', _lastOffset: '507f191e810c19729de860ea' });
    const reconnected = new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.io.engine.close();
    await reconnected;
    expect(socket.recovered).toBe(false);
  });

  it('fails to restore an unknown session (invalid offset)', async () => {
    const socket = client(0, { upgrade: false });
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    Object.assign(socket, { _lastOffset: 'abc' });
    const reconnected = new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.io.engine.close();
    await reconnected;
    expect(socket.recovered).toBe(false);
  });
});
