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
import { persistSession, PrivateLog, replayablePacket, restoreSession, type SessionToPersist } from './recovery.js';
import { RestoreHandoff } from './restore-handoff.js';
import { LocalDeliveryHook, type LocalDeliveryListener } from './delivery-hook.js';

/** What the adapter reads from socket.io's Namespace (typed here so nothing is `any`). */
export interface NamespaceLike {
  readonly name: string;
  readonly sockets: Map<string, unknown>;
  readonly server: {
    readonly opts: { readonly connectionStateRecovery?: { readonly maxDisconnectionDuration?: number } };
  };
  /** socket.io's Namespace is an EventEmitter; 'connect' fires when a socket is added to `sockets`. */
  prependListener?(event: 'connect', listener: (socket: ConnectedSocket) => void): unknown;
}

/** The part of a socket.io Socket the adapter uses when one connects. */
interface ConnectedSocket {
  readonly id: string;
  disconnect(close?: boolean): unknown;
}

/** socket.io-adapter's member list and its removal, private in its typings (see `watchNodes`). */
interface HeartbeatInternals {
  nodesMap?: Map<string, number>;
  removeNode?: (uid: string) => void;
}

/** Why a node stopped being counted on: it announced it (ADAPTER_CLOSE, or it went deaf) or went silent. */
export type NodeLeftReason = 'closed' | 'timeout';

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
/** socket.io-parser's PacketType.EVENT. */
const EVENT_PACKET = 2;
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
  private readonly handoff: RestoreHandoff;
  private closed = false;
  private closing: Promise<void> | undefined;
  /** True while a message from the stream is being applied (removals then come from that message). */
  private receiving = false;
  private readonly localDeliveries: LocalDeliveryHook;

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
    this.localDeliveries = new LocalDeliveryHook((error) =>
      this.settings.logger.error(
        { node: this.uid, nsp: nsp.name, err: errorFacts(error).message },
        'mongo-adapter: a local delivery listener threw',
      ),
    );
    const csr = nsp.server.opts.connectionStateRecovery;
    this.recovery = csr !== undefined && csr !== null && (csr as unknown) !== false;
    this.maxDisconnectionDuration = csr?.maxDisconnectionDuration ?? 2 * 60 * 1000;
    this.handoff = new RestoreHandoff({
      maxPackets: this.settings.restoreScanLimit,
      expireAfterMs: this.settings.restoreTimeoutMs + 60_000,
    });
    if (this.recovery) nsp.prependListener?.('connect', (socket) => this.socketConnected(socket));
    this.watchNodes();
    bus.attach(this);
  }

  /** What this adapter reports (the same emitter as `createAdapter(...).events`). */
  get events(): AdapterEvents {
    return this.bus.events;
  }

  /** Uids of the other nodes this node currently counts on (socket.io-adapter's member list). */
  liveNodes(): string[] {
    const nodes = (this as unknown as HeartbeatInternals).nodesMap;
    return nodes ? [...nodes.keys()] : [];
  }

  /**
   * Calls `listener` once per broadcast this node delivers to its local sockets, whatever its origin (this
   * node, another node, an emitter), in delivery order and after the adapter's ordering, whether or not a
   * local socket matched. The packets a session restore replays to one socket are not reported. `data` is
   * what was emitted (without the recovery offset). A throwing listener is logged and never breaks
   * delivery. Returns the function that unsubscribes.
   */
  onLocalDelivery(listener: LocalDeliveryListener): () => void {
    return this.localDeliveries.add(listener);
  }

  get nspName(): string {
    return (this.nsp as NamespaceLike).name;
  }

  /** For the gateway's readiness probe: see `BusHealth`. */
  health(): BusHealth {
    return this.bus.health();
  }

  /** Idempotent: every call returns the promise of the first, which resolves once the bus is closed. */
  override close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    super.close(); // publishes ADAPTER_CLOSE (written before the bus closes) and stops the heartbeat timers
    this.deliveries.flush();
    this.handoff.clear();
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
    const offset = this.recovery ? this.bus.offsetFor(event.token) : undefined;
    if (offset !== undefined && this.handoff.size > 0) {
      const replayable = replayablePacket(doc, this.nspName);
      if (replayable) this.keepForRestoring([...(fromStored(replayable.data) as unknown[]), offset], replayable);
    }
    const message = { uid: doc.uid, nsp: doc.nsp, type: doc.type, data: fromStored(doc.data) } as ClusterMessage;
    const nodes = (this as unknown as HeartbeatInternals).nodesMap;
    const known = nodes?.has(doc.uid) === true;
    if (doc.type === MessageType.BROADCAST && this.localDeliveries.active) this.reportRemoteBroadcast(message);
    this.receiving = true;
    try {
      this.onMessage(message, offset);
      if (doc.deaf === true && doc.uid !== EMITTER_UID) {
        // Its messages count, but a node that cannot hear must not be waited for.
        this.onMessage({ uid: doc.uid, nsp: doc.nsp, type: MessageType.ADAPTER_CLOSE });
      }
    } finally {
      this.receiving = false;
    }
    if (known && nodes?.has(doc.uid) === false) this.nodeLeft(doc.uid, 'closed');
    if (this.pendingAcks.size > 0) this.sweepAcks();
  }

  private reportRemoteBroadcast(message: ClusterMessage): void {
    if (message.uid === this.uid || message.nsp !== this.nspName) return;
    const data = (message as { data?: { packet?: EventPacket; opts?: EncodedOptions } }).data;
    if (!data?.packet || !data.opts) return;
    this.localDeliveries.notify(
      { ...data.packet, nsp: this.nspName },
      { rooms: new Set(data.opts.rooms), except: new Set(data.opts.except), flags: data.opts.flags },
    );
  }

  /**
   * Reports nodes that leave socket.io-adapter's member list. Removals come from two places in
   * `ClusterAdapterWithHeartbeat`: an ADAPTER_CLOSE (seen in `receive`) and its heartbeat-timeout sweep,
   * which calls its private `removeNode`; wrapping that one method is the only way to hear the sweep.
   */
  private watchNodes(): void {
    const internals = this as unknown as HeartbeatInternals;
    const removeNode = internals.removeNode;
    if (typeof removeNode !== 'function') {
      this.settings.logger.warn(
        { node: this.uid },
        'mongo-adapter: socket.io-adapter has no removeNode; node-left events on heartbeat timeout are not reported',
      );
      return;
    }
    internals.removeNode = (uid: string) => {
      const known = internals.nodesMap?.has(uid) === true;
      removeNode.call(this, uid);
      if (known && !this.receiving) this.nodeLeft(uid, 'timeout');
    };
  }

  private nodeLeft(uid: string, reason: NodeLeftReason): void {
    this.settings.logger.info({ node: this.uid, nsp: this.nspName, left: uid, reason }, 'mongo-adapter: node left');
    this.bus.events.emit('node-left', { node: this.uid, nsp: this.nspName, uid, reason });
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
          this.localDeliveries.notify({ ...packet, nsp: this.nspName }, opts);
          if (token !== undefined) packet.data.push(this.bus.offsetFor(token));
          if (this.handoff.size > 0) {
            this.keepForRestoring(packet.data, { rooms: [...opts.rooms], except: [...(opts.except ?? [])] });
          }
          Adapter.prototype.broadcast.call(this, packet, opts);
        }, this.settings.localDeliveryTimeoutMs);
        this.bus.publish({ ...message, onEcho: settle }).catch(noop);
        return;
      }
      this.bus.publish(message).catch(noop);
      this.deliveries.add(() => {
        this.localDeliveries.notify({ ...packet, nsp: this.nspName }, opts);
        Adapter.prototype.broadcast.call(this, packet, opts);
      });
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
    this.deliveries.add(() => {
      this.localDeliveries.notify({ ...packet, nsp: this.nspName }, opts);
      Adapter.prototype.broadcastWithAck.call(this, packet, opts, clientCountCallback, ack);
    });
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
    this.localDeliveries.notify({ ...packet, nsp: this.nspName }, opts);
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

  // ---- Connection state recovery ----

  override persistSession(session: SessionToPersist): void {
    const log = this.privateLog.take(session.sid);
    this.bus
      .trackSessionWrite(persistSession(this.bus, this.nspName, session, log, this.maxDisconnectionDuration))
      .catch((error: unknown) => {
        this.settings.logger.warn(
          { node: this.uid, err: errorFacts(error).message },
          'mongo-adapter: could not store a recovery session',
        );
      });
  }

  override async restoreSession(pid: string, offset: string): Promise<Session> {
    const onCut = (sid: string, rooms: readonly string[]) => this.handoff.open(sid, rooms);
    const outcome = await restoreSession(this.bus, this.nspName, pid, offset, onCut).catch(() => ({
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
    // A restored socket cleaned up before it connected (middleware refused it, transport closed).
    if (!(this.nsp as NamespaceLike).sockets.has(id)) this.handoff.drop(id);
    super.delAll(id);
  }

  /** A recoverable packet delivered here now: kept for the sockets being restored that it is for. */
  private keepForRestoring(data: readonly unknown[], target: { rooms: string[]; except: string[] }): void {
    this.handoff.capture(data, target.rooms, target.except, (sid) => this.sids.get(sid));
  }

  /**
   * socket.io just added a socket to `nsp.sockets` (live delivery reaches it from now on). If it was
   * restored here, what was delivered between its replay's cut and now is written to it first.
   */
  private socketConnected(socket: ConnectedSocket): void {
    const kept = this.handoff.take(socket.id);
    if (!kept) return;
    if (kept.overflowed) {
      this.settings.logger.error(
        { node: this.uid, nsp: this.nspName, sid: socket.id, kept: kept.packets.length },
        'mongo-adapter: too many packets while a restored socket was connecting; disconnecting it',
      );
      socket.disconnect(true);
      return;
    }
    const target: BroadcastOptions = { rooms: new Set([socket.id]), except: new Set(), flags: {} };
    for (const data of kept.packets) {
      Adapter.prototype.broadcast.call(this, { type: EVENT_PACKET, data }, target);
    }
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
