import type { Collection, Document } from 'mongodb';
import { Server } from 'socket.io';
import type { BroadcastOptions } from 'socket.io-adapter';
import { expectTypeOf, test } from 'vitest';
import {
  createAdapter,
  createEmitter,
  type AdapterEventMap,
  type AdapterEvents,
  type BusHealth,
  type DeliveredPacket,
  type MongoAdapter,
} from '../src/index.js';

declare const collection: Collection<Document>;

test('the factory plugs into socket.io as is', () => {
  const adapter = createAdapter(collection, { heartbeatInterval: 1000 });
  expectTypeOf(new Server({ adapter })).toEqualTypeOf<Server>();
  expectTypeOf(adapter.events.on).toBeFunction();
  expectTypeOf(new adapter({ name: '/', sockets: new Map(), server: { opts: {} } })).toEqualTypeOf<MongoAdapter>();
  expectTypeOf<ReturnType<MongoAdapter['health']>>().toEqualTypeOf<BusHealth>();
});

test('the options of @socket.io/mongo-adapter are accepted as they are typed there', () => {
  createAdapter(collection, {
    uid: 'node-1',
    requestsTimeout: 5000,
    heartbeatInterval: 5000,
    heartbeatTimeout: 10000,
    addCreatedAtField: false,
    changeStreamOptions: { batchSize: 100 },
  });
  expectTypeOf<MongoAdapter['requestsTimeout']>().toEqualTypeOf<number>();
});

test('the emitter resolves to void', () => {
  expectTypeOf(createEmitter(collection).to('room').emit('event', 1)).toEqualTypeOf<Promise<void>>();
});

test('onLocalDelivery: a listener of (packet, BroadcastOptions), returning the unsubscribe function', () => {
  type Listener = Parameters<MongoAdapter['onLocalDelivery']>[0];
  expectTypeOf<Parameters<Listener>[0]>().toEqualTypeOf<DeliveredPacket>();
  expectTypeOf<DeliveredPacket>().toEqualTypeOf<{ type: number; nsp: string; data?: unknown[]; id?: number }>();
  expectTypeOf<Parameters<Listener>[1]>().toEqualTypeOf<BroadcastOptions>();
  expectTypeOf<ReturnType<MongoAdapter['onLocalDelivery']>>().toEqualTypeOf<() => void>();
});

test('membership is public API: node-left and liveNodes', () => {
  expectTypeOf<AdapterEventMap['node-left']>().toEqualTypeOf<{
    node: string;
    nsp: string;
    uid: string;
    reason: 'closed' | 'timeout';
  }>();
  expectTypeOf<ReturnType<MongoAdapter['liveNodes']>>().toEqualTypeOf<string[]>();
  expectTypeOf<MongoAdapter['events']>().toEqualTypeOf<AdapterEvents>();
  expectTypeOf<ReturnType<MongoAdapter['close']>>().toEqualTypeOf<Promise<void>>();
});
