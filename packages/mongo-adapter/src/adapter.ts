import { randomBytes } from 'node:crypto';
import type { Collection, Document } from 'mongodb';
import { Adapter, ClusterAdapterWithHeartbeat, MessageType } from 'socket.io-adapter';
import type {
  BroadcastFlags,
  BroadcastOptions,
  ClusterMessage,
  ClusterResponse,
  Offset,
  Room,
  Session,
} from 'socket.io-adapter';
import { Bus, type BusHealth } from './bus.js';
import type { FeedEvent, GapInfo } from './change-feed.js';
import { fromStored, isRecoverablePacket, type MessageDocument } from './document.js';
import { errorFacts } from './errors.js';
import { AdapterEvents } from './events.js';
import { LocalDeliveryQueue } from './local-delivery.js';
import { resolveOptions, type MongoAdapterOptions, type ResolvedOptions } from './options.js';
import { persistSession, PrivateLog, restoreSession, type SessionToPersist } from './recovery.js';

/** What the adapter reads from socket.io's Namespace (typed here so nothing is `any`). */
export interface NamespaceLike {
  readonly name: string;
  readonly sockets: Map<string, unknown>;
  readonly server: {
    readonly opts: { readonly connectionStateRecovery?: { readonly maxDisconnectionDuration?: number } };
  };
}

interface EncodedOptions {
  rooms: Room[];
  except: Room[];
  flags: BroadcastFlags;
}

interface EventPacket {
  type: number;
  data: unknown[];
  id?: number;
  nsp?: string;
}

const EMITTER_UID = 'emitter';
const noop = () => undefined;

function encodeOptions(opts: BroadcastOptions): EncodedOptions {
  const flags: BroadcastFlags = {};
  // Only the flags that are set: BSON would store `undefined` as null, and socket.io tests `volatile === undefined`.
  for (const [key, value] of Object.entries(opts.flags ?? {})) {
    if (value !== undefined) (flags as Record<string, unknown>)[key] = value;
  }
  return { rooms: [...opts.rooms], except: [...(opts.except ?? [])], flags };
}

/**
 * A socket.io adapter on MongoDB change streams. The inter-node protocol (heartbeats, requests,
 * responses, ADAPTER_CLOSE, node eviction) is socket.io-adapter's `ClusterAdapterWithHeartbeat`; this class
 * only moves its messages through MongoDB (the process-level `Bus`) and adds what MongoDB makes possible:
 * server-ordered offsets for connection state recovery on any node, and node health.
 */
export class MongoAdapter extends ClusterAdapterWithHeartbeat {
  /** Every namespace of a server shares the node's uid: responses are addressed, and filtered, by it. */
  protected override readonly uid: string;
  private readonly bus: Bus;
  private readonly settings: ResolvedOptions;
  private readonly deliveries: LocalDeliveryQueue;
  private readonly privateLog: PrivateLog;
  private readonly recovery: boolean;
  private readonly maxDisconnectionDuration: number;
  private readonly pendingAcks = new Map<
    string,
    {
      clientCount: (count: number) => void;
      ack: (...args: unknown[]) => void;
      missing: Set<string>;
      timer: NodeJS.Timeout;
    }
  >();
  private ackSweep: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(nsp: NamespaceLike, bus: Bus) {
    super(nsp, { heartbeatInterval: bus.options.heartbeatInterval, heartbeatTimeout: bus.options.heartbeatTimeout });
    this.uid = bus.uid;
    this.bus = bus;
    this.settings = bus.options;
    this.deliveries = new LocalDeliveryQueue((error) =>
      this.settings.logger.error(
        { node: this.uid, nsp: nsp.name, err: errorFacts(error).message },
        'mongo-adapter: local delivery failed',
      ),
    );
    this.privateLog = new PrivateLog(this.settings.privateLogSize);
    const csr = nsp.server.opts.connectionStateRecovery;
    this.recovery = csr !== undefined && csr !== null && (csr as unknown) !== false;
    this.maxDisconnectionDuration = csr?.maxDisconnectionDuration ?? 2 * 60 * 1000;
    bus.attach(this);
  }

  get nspName(): string {
    return (this.nsp as NamespaceLike).name;
  }

  /** For the gateway's readiness probe: see `BusHealth`. */
  health(): BusHealth {
    return this.bus.health();
  }

  override async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    super.close(); // publishes ADAPTER_CLOSE (written before the bus closes) and stops the heartbeat timers
    this.deliveries.flush();
    if (this.ackSweep) clearInterval(this.ackSweep);
    for (const request of this.pendingAcks.values()) clearTimeout(request.timer);
    this.pendingAcks.clear();
    await this.bus.detach(this);
  }

  // ---- Publishing (ClusterAdapter's transport hooks) ----

  protected override doPublish(message: ClusterMessage): Promise<Offset> {
    return this.bus
      .publish({
        uid: message.uid,
        nsp: message.nsp,
        type: message.type,
        data: 'data' in message ? message.data : undefined,
      })
      .then(() => '');
  }

  protected override doPublishResponse(requesterUid: string, response: ClusterResponse): Promise<void> {
    return this.bus.publish({
      uid: response.uid,
      nsp: response.nsp,
      type: response.type,
      data: response.data,
      to: requesterUid,
    });
  }

  /** A node that cannot hear the cluster stops heartbeating, so the others stop waiting for it. */
  override publish(message: Parameters<ClusterAdapterWithHeartbeat['publish']>[0]): void {
    const heartbeat = message.type === MessageType.HEARTBEAT || message.type === MessageType.INITIAL_HEARTBEAT;
    if (heartbeat && this.bus.deaf) return;
    if (this.closed && message.type !== MessageType.ADAPTER_CLOSE) return;
    super.publish(message);
  }

  // ---- Receiving (from the bus, in stream order) ----

  receive(doc: MessageDocument, event: FeedEvent): void {
    const message = { uid: doc.uid, nsp: doc.nsp, type: doc.type, data: fromStored(doc.data) } as ClusterMessage;
    this.onMessage(message, this.recovery ? this.bus.offsetFor(event.token) : undefined);
    if (doc.deaf === true && doc.uid !== EMITTER_UID) {
      // Its messages count, but a node that cannot hear must not be waited for.
      this.onMessage({ uid: doc.uid, nsp: doc.nsp, type: MessageType.ADAPTER_CLOSE });
    }
    if (this.pendingAcks.size > 0) this.sweepAcks();
  }

  hearingChanged(hearing: boolean): void {
    if (this.closed) return;
    // Deaf: tell the others to stop counting on us now (heartbeats are suppressed meanwhile).
    // Hearing again: announce ourselves; every node answers with a heartbeat.
    super.publish({ type: hearing ? MessageType.INITIAL_HEARTBEAT : MessageType.ADAPTER_CLOSE });
  }

  gapOccurred(_gap: GapInfo): void {
    // Deliveries waiting for their own echo were released by the bus; nothing else to undo.
  }

  override onResponse(response: ClusterResponse): void {
    if (response.type === MessageType.BROADCAST_CLIENT_COUNT || response.type === MessageType.BROADCAST_ACK) {
      const request = this.pendingAcks.get(response.data.requestId);
      if (!request) return;
      if (response.type === MessageType.BROADCAST_CLIENT_COUNT) {
        if (!request.missing.delete(response.uid)) return;
        request.clientCount(response.data.clientCount);
      } else {
        request.ack(response.data.packet);
      }
      return;
    }
    super.onResponse(response);
  }

  // ---- Broadcasting ----

  override async broadcast(packet: EventPacket, opts: BroadcastOptions): Promise<void> {
    try {
      const onlyLocal = opts.flags?.local === true;
      const recoverable = isRecoverablePacket(packet, opts.flags?.volatile);
      if (onlyLocal || this.targetsOnlyLocalSockets(opts)) {
        this.deliveries.add(() => this.deliverPrivately(packet, opts, this.recovery && recoverable && !onlyLocal));
        return;
      }
      const message = {
        uid: this.uid,
        nsp: this.nspName,
        type: MessageType.BROADCAST,
        data: { packet, opts: encodeOptions(opts) },
        recoverable,
      };
      if (this.recovery && recoverable) {
        // Delivered here when it comes back through the stream, with the same server offset as everywhere.
        const settle = this.deliveries.addPending((token) => {
          if (token !== undefined) packet.data.push(this.bus.offsetFor(token));
          Adapter.prototype.broadcast.call(this, packet, opts);
        }, this.settings.localDeliveryTimeoutMs);
        this.bus.publish({ ...message, onEcho: settle }).catch(noop);
        return;
      }
      this.bus.publish(message).catch(noop);
      this.deliveries.add(() => Adapter.prototype.broadcast.call(this, packet, opts));
    } catch (error) {
      this.settings.logger.error({ node: this.uid, err: errorFacts(error).message }, 'mongo-adapter: broadcast failed');
    }
  }

  override broadcastWithAck(
    packet: EventPacket,
    opts: BroadcastOptions,
    clientCountCallback: (clientCount: number) => void,
    ack: (...args: unknown[]) => void,
  ): void {
    if (opts.flags?.local !== true && !this.targetsOnlyLocalSockets(opts)) {
      const requestId = randomBytes(8).toString('hex');
      const timer = setTimeout(() => this.pendingAcks.delete(requestId), opts.flags?.timeout ?? 5000);
      timer.unref();
      this.pendingAcks.set(requestId, {
        clientCount: clientCountCallback,
        ack,
        missing: new Set(this.liveNodes()),
        timer,
      });
      this.ackSweep ??= setInterval(() => this.sweepAcks(), 500);
      this.publish({ type: MessageType.BROADCAST, data: { packet, requestId, opts: encodeOptions(opts) } });
    }
    this.deliveries.add(() => Adapter.prototype.broadcastWithAck.call(this, packet, opts, clientCountCallback, ack));
  }

  override async addSockets(opts: BroadcastOptions, rooms: Room[]): Promise<void> {
    if (opts.flags?.local !== true && !this.targetsOnlyLocalSockets(opts)) {
      this.publish({ type: MessageType.SOCKETS_JOIN, data: { opts: encodeOptions(opts), rooms } });
    }
    this.deliveries.add(() => Adapter.prototype.addSockets.call(this, opts, rooms));
  }

  override async delSockets(opts: BroadcastOptions, rooms: Room[]): Promise<void> {
    if (opts.flags?.local !== true && !this.targetsOnlyLocalSockets(opts)) {
      this.publish({ type: MessageType.SOCKETS_LEAVE, data: { opts: encodeOptions(opts), rooms } });
    }
    this.deliveries.add(() => Adapter.prototype.delSockets.call(this, opts, rooms));
  }

  override async disconnectSockets(opts: BroadcastOptions, close: boolean): Promise<void> {
    if (opts.flags?.local !== true && !this.targetsOnlyLocalSockets(opts)) {
      this.publish({ type: MessageType.DISCONNECT_SOCKETS, data: { opts: encodeOptions(opts), close } });
    }
    this.deliveries.add(() => Adapter.prototype.disconnectSockets.call(this, opts, close));
  }

  /** Every target room is the id of a socket connected here: nothing to tell the other nodes. */
  private targetsOnlyLocalSockets(opts: BroadcastOptions): boolean {
    if (opts.rooms.size === 0) return false;
    const sockets = (this.nsp as NamespaceLike).sockets;
    for (const room of opts.rooms) if (!sockets.has(room)) return false;
    return true;
  }

  private deliverPrivately(packet: EventPacket, opts: BroadcastOptions, recoverable: boolean): void {
    if (recoverable) {
      const position = this.bus.nextPrivateOffset();
      if (position) {
        packet.data.push(position.offset);
        const targets = [...opts.rooms].filter((room) => !opts.except?.has(room));
        this.privateLog.record(targets, { base: position.base, k: position.k, data: packet.data });
      }
    }
    Adapter.prototype.broadcast.call(this, packet, opts);
  }

  /** Nodes that left or were evicted will not send their client count: count them as zero clients. */
  private sweepAcks(): void {
    const live = new Set(this.liveNodes());
    for (const request of this.pendingAcks.values()) {
      for (const uid of request.missing) {
        if (!live.has(uid)) {
          request.missing.delete(uid);
          request.clientCount(0);
        }
      }
    }
    if (this.pendingAcks.size === 0 && this.ackSweep) {
      clearInterval(this.ackSweep);
      this.ackSweep = undefined;
    }
  }

  /** socket.io-adapter keeps its member list private; it is the single source of truth, so we read it. */
  private liveNodes(): string[] {
    const nodes = (this as unknown as { nodesMap?: Map<string, number> }).nodesMap;
    return nodes ? [...nodes.keys()] : [];
  }

  // ---- Connection state recovery ----

  override persistSession(session: SessionToPersist): void {
    const log = this.privateLog.take(session.sid);
    persistSession(this.bus, this.nspName, session, log, this.maxDisconnectionDuration).catch((error: unknown) => {
      this.settings.logger.warn(
        { node: this.uid, err: errorFacts(error).message },
        'mongo-adapter: could not store a recovery session',
      );
    });
  }

  override async restoreSession(pid: string, offset: string): Promise<Session> {
    const outcome = await restoreSession(this.bus, this.nspName, pid, offset).catch(() => ({
      ok: false as const,
      reason: 'error' as const,
    }));
    this.bus.emitRestore(
      this.nspName,
      outcome.ok,
      outcome.ok ? 'restored' : outcome.reason,
      outcome.ok ? outcome.session.missedPackets.length : 0,
    );
    // socket.io treats a null session as "not recoverable" (its in-memory adapter returns null too).
    return (outcome.ok ? outcome.session : null) as Session;
  }

  override delAll(id: string): void {
    this.privateLog.forget(id);
    super.delAll(id);
  }
}

/** The value `createAdapter` returns: pass it as `new Server({ adapter })`; `.events` reports what happens. */
export type MongoAdapterFactory = Omit<typeof MongoAdapter, 'prototype'> & {
  new (nsp: NamespaceLike): MongoAdapter;
  readonly prototype: MongoAdapter;
  readonly events: AdapterEvents;
};

/**
 * Creates the adapter constructor for `new Server({ adapter: createAdapter(collection, options) })`.
 * Each socket.io server gets one bus (one outbox, one change stream) shared by all its namespaces.
 * Throws INVALID_OPTIONS synchronously.
 */
export function createAdapter(
  collection: Collection<Document>,
  options: MongoAdapterOptions = {},
): MongoAdapterFactory {
  const resolved = resolveOptions(options);
  const events = new AdapterEvents();
  const buses = new WeakMap<object, Bus>();
  const busFor = (server: object): Bus => {
    let bus = buses.get(server);
    if (!bus || bus.closed) {
      bus = new Bus(collection, resolved, events);
      buses.set(server, bus);
    }
    return bus;
  };
  class BoundMongoAdapter extends MongoAdapter {
    /** `createAdapter(...).events.on('gap', ...)`: a static `on` would shadow EventEmitter's. */
    static readonly events = events;
    constructor(nsp: NamespaceLike) {
      super(nsp, busFor(nsp.server));
    }
  }
  return BoundMongoAdapter;
}
