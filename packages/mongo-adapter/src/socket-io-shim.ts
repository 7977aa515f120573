import { ClusterAdapterWithHeartbeat } from 'socket.io-adapter';

/**
 * Every use of a socket.io or socket.io-adapter internal, in one place. Each one is checked by
 * `test/socket-io-shim.test.ts`, which fails loudly on a version where it is gone; at run time a
 * missing internal degrades the one feature that needs it (with a warning) instead of breaking delivery.
 */

/** socket.io-parser's `PacketType.EVENT` (a protocol constant; socket.io-parser is not our dependency). */
export const EVENT_PACKET = 2;

/**
 * socket.io's rule for what connection state recovery may store and replay (ClusterAdapter's private
 * `addOffsetIfNecessary`): an event packet, without acknowledgement, not volatile.
 */
export function isRecoverablePacket(packet: unknown, volatile: boolean | undefined): boolean {
  if (typeof packet !== 'object' || packet === null) return false;
  const p = packet as { type?: unknown; id?: unknown; data?: unknown };
  return p.type === EVENT_PACKET && p.id === undefined && volatile === undefined && Array.isArray(p.data);
}

/** The part of socket.io's Server options the adapter reads (`Server.opts` is not in socket.io's public typings). */
export interface RecoveryOptions {
  readonly maxDisconnectionDuration?: number;
}

export interface ServerWithOptions {
  readonly opts?: { readonly connectionStateRecovery?: RecoveryOptions | false | null };
}

/**
 * The server's connection state recovery options, or undefined when it is off. socket.io-adapter's own
 * ClusterAdapter reads the same field (`this.nsp.server.opts.connectionStateRecovery`).
 */
export function connectionStateRecovery(server: ServerWithOptions): RecoveryOptions | undefined {
  const csr = server.opts?.connectionStateRecovery;
  return csr === undefined || csr === null || csr === false ? undefined : csr;
}

/** socket.io-adapter's member list, its removal and its eviction sweep, private in its typings. */
interface HeartbeatInternals {
  nodesMap?: Map<string, number>;
  removeNode?: (uid: string) => void;
  cleanupTimer?: ReturnType<typeof setInterval>;
}

/**
 * Uids of the other nodes a ClusterAdapterWithHeartbeat counts on: the keys of its private `nodesMap`
 * (`serverCount()` is `1 + nodesMap.size`, but only the count is public). Undefined if the field is gone.
 */
export function memberUids(adapter: ClusterAdapterWithHeartbeat): string[] | undefined {
  const nodes = (adapter as unknown as HeartbeatInternals).nodesMap;
  return nodes instanceof Map ? [...nodes.keys()] : undefined;
}

/** Whether the adapter currently counts on `uid` (see `memberUids`). */
export function countsOn(adapter: ClusterAdapterWithHeartbeat, uid: string): boolean {
  return (adapter as unknown as HeartbeatInternals).nodesMap?.has(uid) === true;
}

/**
 * Calls `onRemoved(uid)` after ClusterAdapterWithHeartbeat removes a node it counted on. Removals come from
 * an ADAPTER_CLOSE (a message) and from its heartbeat-timeout sweep; both go through its private
 * `removeNode`, and the sweep has no other hook. Returns false (nothing wrapped) when `removeNode` is gone.
 */
export function onNodeRemoved(adapter: ClusterAdapterWithHeartbeat, onRemoved: (uid: string) => void): boolean {
  const internals = adapter as unknown as HeartbeatInternals;
  const removeNode = internals.removeNode;
  if (typeof removeNode !== 'function') return false;
  internals.removeNode = function removeNodeAndReport(this: ClusterAdapterWithHeartbeat, uid: string) {
    const known = internals.nodesMap?.has(uid) === true;
    removeNode.call(this, uid);
    if (known) onRemoved(uid);
  };
  return true;
}

/**
 * Takes over ClusterAdapterWithHeartbeat's eviction: its own sweep (a private 1 s interval, `cleanupTimer`)
 * removes every node whose last message (`nodesMap`, wall-clock ms) is older than `heartbeatTimeout`, which
 * during a MongoDB election is every node at once. It is stopped, and the returned function removes (through
 * `removeNode`, so `onNodeRemoved` still reports it) the nodes the caller's rule calls silent. Returns
 * undefined, leaving socket.io's sweep in place, when one of these internals is gone.
 */
export function takeOverEviction(
  adapter: ClusterAdapterWithHeartbeat,
): ((silentTooLong: (lastSeen: number) => boolean) => void) | undefined {
  const internals = adapter as unknown as HeartbeatInternals;
  const nodes = internals.nodesMap;
  if (!(nodes instanceof Map) || typeof internals.removeNode !== 'function' || internals.cleanupTimer === undefined) {
    return undefined;
  }
  clearInterval(internals.cleanupTimer);
  return (silentTooLong) => {
    for (const [uid, lastSeen] of [...nodes]) {
      if (silentTooLong(lastSeen)) internals.removeNode?.call(adapter, uid);
    }
  };
}

/** True when the installed socket.io-adapter still has every internal above (for the start-up warning). */
export function heartbeatInternalsPresent(): boolean {
  const proto = ClusterAdapterWithHeartbeat.prototype as unknown as HeartbeatInternals;
  return typeof proto.removeNode === 'function';
}
