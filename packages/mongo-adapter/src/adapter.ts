import type { Collection, Document } from 'mongodb';
import { ClusterAdapterWithHeartbeat, MessageType } from 'socket.io-adapter';
import type {
  BroadcastFlags,
  BroadcastOptions,
  ClusterMessage,
  ClusterResponse,
  Offset,
  Room,
  Session,
} from 'socket.io-adapter';
import { Bus, type BusHealth, type BusMember } from './bus.js';
import type { FeedEvent, ForeignEvent } from './change-feed.js';
import { LocalDeliveryHook, type LocalDeliveryListener } from './delivery-hook.js';
import { TO_ALL, type MessageDocument } from './document.js';
import { AdapterEvents } from './events.js';
import { LocalDeliveryQueue } from './local-delivery.js';
import { bindLogger, errorMessage, type BoundLogger } from './logging.js';
import { resolveOptions, type MongoAdapterOptions, type ResolvedOptions } from './options.js';
import { persistSession, restoreSession, type RecoveryPort, type SessionToPersist } from './recovery.js';
import { replayablePacket } from './replay.js';
import { timeoutError, RequestTracker } from './requests.js';
import { RestoreHandoff } from './restore-handoff.js';
import {
  connectionStateRecovery,
  countsOn,
  EVENT_PACKET,
  isRecoverablePacket,
  memberUids,
  onNodeRemoved,
  takeOverEviction,
  type RecoveryOptions,
  type ServerWithOptions,
} from './socket-io-shim.js';

/** What the adapter reads from socket.io's Namespace (typed here so nothing is `any`). */
export interface NamespaceLike {
  readonly name: string;
  readonly sockets: Map<string, unknown>;
  readonly server: ServerWithOptions;
  /** socket.io's Namespace is an EventEmitter; 'connect' fires when a socket is added to `sockets`. */
  prependListener?(event: 'connect', listener: (socket: ConnectedSocket) => void): unknown;
}

/** The part of a socket.io Socket the adapter uses when one connects. */
interface ConnectedSocket {
  readonly id: string;
  disconnect(close?: boolean): unknown;
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
const noop = () => undefined;

function encodeOptions(opts: BroadcastOptions): EncodedOptions {
  const flags: BroadcastFlags = {};
  // Only the flags that are set: BSON would store `undefined` as null, and socket.io tests `volatile === undefined`.
  for (const [key, value] of Object.entries(opts.flags ?? {})) {
    if (value !== undefined) (flags as Record<string, unknown>)[key] = value;
  }
  return { rooms: [...opts.rooms], except: [...(opts.except ?? [])], flags };
}

/** The same operation, for this node's sockets only (socket.io-adapter's own `local` flag). */
function localOnly(opts: BroadcastOptions): BroadcastOptions {
  return { rooms: opts.rooms, except: opts.except ?? new Set(), flags: { ...opts.flags, local: true } };
}

/** What is written: a snapshot, since local delivery later appends the recovery offset to `data`. */
function storedPacket(packet: EventPacket): EventPacket {
  return { ...packet, data: packet.data.slice() };
}

/**
 * A socket.io adapter on MongoDB change streams. The inter-node protocol (heartbeats, requests,
 * responses, ADAPTER_CLOSE, node eviction) is socket.io-adapter's `ClusterAdapterWithHeartbeat`; this class
 * only moves its messages through MongoDB (the process-level `Bus`) and adds what MongoDB makes possible:
 * offsets for connection state recovery on any node, and node health.
 *
 * Overrides, and why each exists:
 * - `broadcast`, `broadcastWithAck`, `addSockets`, `delSockets`, `disconnectSockets`: local-delivery order.
 *   The write goes out first and this node's sockets are served in the next turn, in emission order; with
 *   recovery, each broadcast gets its place in this node's delivery order before its write (the document
 *   records it). The base class would deliver at once, after its write.
 * - `serverSideEmit`, `fetchSockets`, `onResponse`: `requestsTimeout` and the timeout error text of
 *   `@socket.io/mongo-adapter` (the base class has a fixed 5 s and its own text), and broadcast acks
 *   tracked by `RequestTracker` (a node that leaves counts as zero clients).
 * - `persistSession`, `restoreSession`, `delAll`: recovery across nodes.
 * - `close`: idempotent, resolves once the bus is closed.
 */
export class MongoAdapter extends ClusterAdapterWithHeartbeat {
  /** Every namespace of a server shares the node's uid: responses are addressed, and filtered, by it. */
  protected override readonly uid: string;
  /** ms before `serverSideEmit` acks and `fetchSockets` stop waiting (mutable, as in `@socket.io/mongo-adapter`). */
  requestsTimeout: number;
  private readonly bus: Bus;
  private readonly settings: ResolvedOptions;
  private readonly log: BoundLogger;
  private readonly local: LocalDeliveryQueue;
  private readonly recovery: RecoveryOptions | undefined;
  private readonly tracker = new RequestTracker();
  private readonly handoff: RestoreHandoff;
  private readonly localDeliveries: LocalDeliveryHook;
  private readonly recoveryPort: RecoveryPort;
  private readonly member: BusMember;
  private closed = false;
  private closing: Promise<void> | undefined;
  /** True while a message from the stream is being applied (a removal then comes from that message). */
  private receiving = false;

  constructor(nsp: NamespaceLike, bus: Bus) {
    super(nsp, { heartbeatInterval: bus.options.heartbeatInterval, heartbeatTimeout: bus.options.heartbeatTimeout });
    this.uid = bus.uid;
    this.bus = bus;
    this.settings = bus.options;
    this.requestsTimeout = bus.options.requestsTimeout;
    this.log = bindLogger(this.settings.logger, { uid: bus.uid, component: 'mongo-adapter:adapter', nsp: nsp.name });
    const recoveryLog = bindLogger(this.settings.logger, {
      uid: bus.uid,
      component: 'mongo-adapter:recovery',
      nsp: nsp.name,
    });
    this.local = new LocalDeliveryQueue((error) =>
      this.log.error({ err: errorMessage(error) }, 'local delivery failed'),
    );
    this.localDeliveries = new LocalDeliveryHook((error) =>
      this.log.error({ err: errorMessage(error) }, 'a local delivery listener threw'),
    );
    this.recovery = connectionStateRecovery(nsp.server);
    this.handoff = new RestoreHandoff({
      maxPackets: this.settings.restoreScanLimit,
      expireAfterMs: this.settings.restoreTimeoutMs + 60_000,
    });
    this.recoveryPort = {
      node: bus.uid,
      sessions: bus.sessions,
      messages: bus.collection,
      writeConcern: this.settings.writeConcern,
      maxAwaitTimeMS: this.settings.maxAwaitTimeMS,
      restoreScanLimit: this.settings.restoreScanLimit,
      restoreTimeoutMs: this.settings.restoreTimeoutMs,
      log: recoveryLog,
      caughtUp: () => bus.barrier(),
      applied: (doc) => bus.applied(doc),
      appliedThrough: (origin, seq) => bus.appliedThrough(origin, TO_ALL, seq),
      latestApplied: () => bus.positions.token,
      inStreamOrder: () => bus.inStreamOrder,
      ownSettledThrough: (seq) => bus.ownSettledThrough(seq),
      writeMarker: () => bus.writeMarker(),
      gapSince: (time) => bus.gapsSince(time).length > 0,
      replayOffset: (token, k, clean) => bus.positions.at(token, k, clean),
    };
    if (this.recovery) nsp.prependListener?.('connect', (socket) => this.socketConnected(socket));
    // Silence is judged by the bus (no eviction while MongoDB elects a primary), not by socket.io's wall clock.
    const evictSilent = takeOverEviction(this);
    if (!evictSilent) {
      this.log.warn(
        {},
        "this socket.io-adapter's eviction sweep cannot be taken over (see socket-io-shim.ts): nodes are evicted after heartbeatTimeout even during a MongoDB election",
      );
    }
    this.member = {
      nspName: nsp.name,
      receive: (event) => this.receive(event),
      receiveForeign: (event) => this.receiveForeign(event),
      hearingChanged: (hearing) => this.hearingChanged(hearing),
      evictSilent: (silentTooLong) => evictSilent?.(silentTooLong),
    };
    const watching = onNodeRemoved(this, (uid) => this.nodeLeft(uid, this.receiving ? 'closed' : 'timeout'));
    if (!watching) {
      this.log.warn(
        {},
        'this socket.io-adapter has no node-removal hook (see socket-io-shim.ts): node-left on heartbeat timeout is not reported, and requests wait for departed nodes',
      );
    }
    bus.attach(this.member);
  }

  /** What this adapter reports (the same emitter as `createAdapter(...).events`). */
  get events(): AdapterEvents {
    return this.bus.events;
  }

  /** Uids of the other nodes this node currently counts on (socket.io-adapter's member list). */
  liveNodes(): string[] {
    return memberUids(this) ?? [];
  }

  get nspName(): string {
    return (this.nsp as NamespaceLike).name;
  }

  /** For the gateway's readiness probe: see `BusHealth`. */
  health(): BusHealth {
    return this.bus.health();
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

  /** Idempotent: every call returns the promise of the first, which resolves once the bus is closed. */
  override close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    super.close(); // publishes ADAPTER_CLOSE (written before the bus closes) and stops the heartbeat timers
    this.local.flush();
    this.handoff.clear();
    this.tracker.clear();
    await this.bus.detach(this.member);
  }

  // ---- Publishing (ClusterAdapter's transport hooks) ----

  protected override doPublish(message: ClusterMessage): Promise<Offset> {
    const heartbeat = message.type === MessageType.HEARTBEAT || message.type === MessageType.INITIAL_HEARTBEAT;
    // A node that cannot hear the cluster must not look alive; a closed one only announces its departure.
    if ((heartbeat && this.bus.deaf) || (this.closed && message.type !== MessageType.ADAPTER_CLOSE)) {
      return Promise.resolve('');
    }
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

  // ---- Receiving (from the bus, in delivery order) ----

  /**
   * A message from the stream. It takes its place in this node's delivery order now (its offset is fixed
   * here) and is applied behind this node's own operations still waiting for their turn, at once otherwise.
   */
  private receive(event: FeedEvent): number {
    const { doc } = event;
    // The feed reads with promoteBuffers: Binary values are Buffers already.
    const message = { uid: doc.uid, nsp: doc.nsp, type: doc.type, data: doc.data } as ClusterMessage;
    const replayable = this.recovery ? replayablePacket(doc, this.nspName) : undefined;
    const offset = replayable ? this.bus.positions.offset(this.bus.inStreamOrder) : undefined;
    const deaf = doc.deaf === true;
    this.local.addInOrder(() => {
      if (this.log.tracing) this.log.debug({ origin: doc.origin, seq: doc.seq, type: doc.type }, 'delivering');
      if (offset !== undefined && replayable && this.handoff.size > 0)
        this.keepForRestoring([...replayable.data, offset], replayable.rooms, replayable.except);
      this.applyMessage(message, offset, deaf);
    });
    return this.costOf(message);
  }

  private receiveForeign(event: ForeignEvent): number {
    const { foreign } = event;
    const message = {
      uid: foreign.uid,
      nsp: foreign.nsp,
      type: foreign.type,
      data: foreign.data,
    } as ClusterMessage;
    // Not restorable: a node of the official adapter never writes what a replay needs.
    const offset = this.recovery ? this.bus.positions.offset(false) : undefined;
    this.local.addInOrder(() => this.applyMessage(message, offset, false));
    return this.costOf(message);
  }

  private applyMessage(message: ClusterMessage, offset: string | undefined, deaf: boolean): void {
    let socketsMayMatch = true;
    if (message.type === MessageType.BROADCAST) {
      if (this.localDeliveries.active) this.reportRemoteBroadcast(message);
      // socket.io encodes a broadcast before looking for its sockets: skip both when none is here.
      const data = (message as { data?: { requestId?: unknown; opts?: EncodedOptions } }).data;
      if (data?.requestId === undefined && data?.opts) socketsMayMatch = this.hasLocalTarget(data.opts.rooms);
    }
    this.receiving = true;
    try {
      if (socketsMayMatch) this.onMessage(message, offset);
      if (deaf && message.uid !== EMITTER_UID && countsOn(this, message.uid)) {
        // Its messages count, but a node that cannot hear must not be waited for.
        this.onMessage({ uid: message.uid, nsp: message.nsp, type: MessageType.ADAPTER_CLOSE });
      }
    } finally {
      this.receiving = false;
    }
  }

  /** Whether a socket of this node may be in `rooms` (no rooms: every socket). Excluded rooms are socket.io's to apply. */
  private hasLocalTarget(rooms: Iterable<Room>): boolean {
    let any = false;
    for (const room of rooms) {
      any = true;
      if ((this.rooms.get(room)?.size ?? 0) > 0) return true;
    }
    return !any && this.sids.size > 0;
  }

  /** Rough number of socket writes a message takes here (for the dispatch budget). */
  private costOf(message: ClusterMessage): number {
    if (message.type !== MessageType.BROADCAST) return 1;
    const rooms = (message.data as { opts?: EncodedOptions }).opts?.rooms ?? [];
    if (rooms.length === 0) return (this.nsp as NamespaceLike).sockets.size;
    let count = 0;
    for (const room of rooms) count += this.rooms.get(room)?.size ?? 0;
    return count;
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

  private nodeLeft(uid: string, reason: NodeLeftReason): void {
    this.tracker.nodeGone(uid);
    this.log.info({ left: uid, reason }, 'node left');
    this.bus.events.emit('node-left', { node: this.uid, nsp: this.nspName, uid, reason });
  }

  private hearingChanged(hearing: boolean): void {
    if (this.closed) return;
    // Deaf: tell the others to stop counting on us now (heartbeats are held meanwhile).
    // Hearing again: announce ourselves; every node answers with a heartbeat.
    this.publish({ type: hearing ? MessageType.INITIAL_HEARTBEAT : MessageType.ADAPTER_CLOSE });
  }

  override onResponse(response: ClusterResponse): void {
    if (!this.tracker.onResponse(response)) super.onResponse(response);
  }

  // ---- Requests ----

  override async serverSideEmit(packet: unknown[]): Promise<void> {
    const ack = packet[packet.length - 1];
    if (typeof ack !== 'function') return super.serverSideEmit(packet);
    const args = packet.slice(0, -1);
    const requestId = this.tracker.startServerSide(
      this.liveNodes(),
      this.requestsTimeout,
      ack as (error: Error | null, responses: unknown[]) => void,
    );
    if (requestId === undefined) return;
    this.publish({ type: MessageType.SERVER_SIDE_EMIT, data: { requestId, packet: args } });
  }

  override async fetchSockets(opts: BroadcastOptions): Promise<unknown[]> {
    const expected = this.liveNodes().length;
    const timeout = opts.flags?.timeout ?? this.requestsTimeout;
    try {
      return await super.fetchSockets({ ...opts, flags: { ...opts.flags, timeout } });
    } catch (error) {
      const missing = /^timeout reached: missing (\d+) responses$/.exec(errorMessage(error));
      if (!missing) throw error;
      const total = Math.max(expected, Number(missing[1]));
      throw timeoutError(total - Number(missing[1]), total);
    }
  }

  // ---- Broadcasting: this node's part, in emission order ----

  override async broadcast(packet: EventPacket, opts: BroadcastOptions): Promise<void> {
    try {
      if (opts.flags?.local === true) {
        // Never written, so never replayable elsewhere: no offset.
        this.local.addInOrder(() => this.deliver(packet, opts, undefined));
        return;
      }
      const recoverable = isRecoverablePacket(packet, opts.flags?.volatile);
      const message = {
        uid: this.uid,
        nsp: this.nspName,
        type: MessageType.BROADCAST,
        data: { packet: storedPacket(packet), opts: encodeOptions(opts) },
        recoverable,
      };
      if (!this.recovery || !recoverable) {
        this.bus.publish(message).catch(noop);
        this.local.add(() => this.deliver(packet, opts, undefined));
        return;
      }
      // Its place in this node's delivery order is fixed now, before the write, and the document records it:
      // a restore on any node then knows which of this node's broadcasts a client had. Delivered here in the
      // next turn, never waiting for MongoDB. (Refused before being numbered: delivered without offset.)
      const clean = this.bus.inStreamOrder;
      const seq = this.bus.publishPlaced(message);
      const offset = seq > 0 ? this.bus.positions.place(seq, clean) : undefined;
      this.local.add(() => this.deliver(packet, opts, offset));
    } catch (error) {
      this.log.error({ err: errorMessage(error) }, 'broadcast failed');
    }
  }

  override broadcastWithAck(
    packet: EventPacket,
    opts: BroadcastOptions,
    clientCountCallback: (clientCount: number) => void,
    ack: (...args: unknown[]) => void,
  ): void {
    const run = () => {
      this.localDeliveries.notify({ ...packet, nsp: this.nspName }, opts);
      super.broadcastWithAck(packet, localOnly(opts), clientCountCallback, ack);
    };
    if (opts.flags?.local === true) {
      this.local.addInOrder(run);
      return;
    }
    const requestId = this.tracker.startAck(
      this.liveNodes(),
      opts.flags?.timeout ?? this.requestsTimeout,
      clientCountCallback,
      ack,
    );
    this.publish({
      type: MessageType.BROADCAST,
      data: { packet: storedPacket(packet), requestId, opts: encodeOptions(opts) },
    });
    this.local.add(run);
  }

  override async addSockets(opts: BroadcastOptions, rooms: Room[]): Promise<void> {
    const run = () => void super.addSockets(localOnly(opts), rooms);
    if (opts.flags?.local === true) return this.local.addInOrder(run);
    this.publish({ type: MessageType.SOCKETS_JOIN, data: { opts: encodeOptions(opts), rooms } });
    this.local.add(run);
  }

  override async delSockets(opts: BroadcastOptions, rooms: Room[]): Promise<void> {
    const run = () => void super.delSockets(localOnly(opts), rooms);
    if (opts.flags?.local === true) return this.local.addInOrder(run);
    this.publish({ type: MessageType.SOCKETS_LEAVE, data: { opts: encodeOptions(opts), rooms } });
    this.local.add(run);
  }

  override async disconnectSockets(opts: BroadcastOptions, close: boolean): Promise<void> {
    const run = () => void super.disconnectSockets(localOnly(opts), close);
    if (opts.flags?.local === true) return this.local.addInOrder(run);
    this.publish({ type: MessageType.DISCONNECT_SOCKETS, data: { opts: encodeOptions(opts), close } });
    this.local.add(run);
  }

  /**
   * Writes a broadcast of this node's to its sockets. `offset`: its place in this node's delivery order
   * (recovery on and a recoverable packet), appended for the clients and kept for sockets being restored.
   */
  private deliver(packet: EventPacket, opts: BroadcastOptions, offset: string | undefined): void {
    this.localDeliveries.notify({ ...packet, nsp: this.nspName }, opts);
    if (offset !== undefined) {
      packet.data.push(offset);
      if (this.handoff.size > 0) this.keepForRestoring(packet.data, [...opts.rooms], [...(opts.except ?? [])]);
    }
    // socket.io encodes a broadcast before looking for its sockets: skip both when none is here.
    if (this.hasLocalTarget(opts.rooms)) void super.broadcast(packet, localOnly(opts));
  }

  // ---- Connection state recovery ----

  override persistSession(session: SessionToPersist): void {
    const maxDisconnectionDuration = this.recovery?.maxDisconnectionDuration ?? 2 * 60 * 1000;
    this.bus
      .trackSessionWrite(persistSession(this.recoveryPort, this.nspName, session, maxDisconnectionDuration))
      .catch((error: unknown) => {
        this.recoveryPort.log.warn({ err: errorMessage(error) }, 'could not store a recovery session');
      });
  }

  override async restoreSession(pid: string, offset: string): Promise<Session> {
    const onCut = (sid: string, rooms: readonly string[]) => {
      // Everything placed before the cut is delivered before it; what is delivered after it is kept for the
      // socket, in the order it is delivered.
      this.local.flush();
      this.handoff.open(sid, rooms);
      return this.bus.positions.ownSeq;
    };
    const outcome = await restoreSession(this.recoveryPort, this.nspName, pid, offset, onCut).catch(
      (error: unknown) => {
        this.recoveryPort.log.warn({ err: errorMessage(error) }, 'session restore failed');
        return { ok: false as const, reason: 'error' as const };
      },
    );
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
    // A restored socket cleaned up before it connected (middleware refused it, transport closed).
    if (!(this.nsp as NamespaceLike).sockets.has(id)) this.handoff.drop(id);
    super.delAll(id);
  }

  /** A recoverable packet delivered here now: kept for the sockets being restored that it is for. */
  private keepForRestoring(data: readonly unknown[], rooms: string[], except: string[]): void {
    this.handoff.capture(data, rooms, except, (sid) => this.sids.get(sid));
  }

  /**
   * socket.io just added a socket to `nsp.sockets` (live delivery reaches it from now on). If it was
   * restored here, what was delivered between its replay's cut and now is written to it first.
   */
  private socketConnected(socket: ConnectedSocket): void {
    const kept = this.handoff.take(socket.id);
    if (!kept) return;
    if (kept.overflowed) {
      this.recoveryPort.log.error(
        { sid: socket.id, kept: kept.packets.length },
        'too many packets while a restored socket was connecting; disconnecting it',
      );
      socket.disconnect(true);
      return;
    }
    const target: BroadcastOptions = { rooms: new Set([socket.id]), except: new Set(), flags: { local: true } };
    for (const data of kept.packets) void super.broadcast({ type: EVENT_PACKET, data }, target);
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

export type { MessageDocument };
