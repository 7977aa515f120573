import { createServer } from 'node:http';
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Server } from 'socket.io';
import { ClusterAdapterWithHeartbeat, MessageType } from 'socket.io-adapter';
import { afterEach, describe, expect, it } from 'vitest';
import {
  connectionStateRecovery,
  countsOn,
  EVENT_PACKET,
  heartbeatInternalsPresent,
  isRecoverablePacket,
  memberUids,
  onNodeRemoved,
  takeOverEviction,
} from '../src/socket-io-shim.js';

/**
 * Every socket.io / socket.io-adapter internal the adapter relies on, checked against the installed
 * versions. If one of these fails after an upgrade, the matching feature of `src/socket-io-shim.ts`
 * (node-left on heartbeat timeout, liveNodes(), requests that stop waiting for departed nodes, recovery)
 * no longer works: fix the shim before shipping.
 */

/** A bare ClusterAdapterWithHeartbeat, its transport swallowing what it publishes. */
class ProbeAdapter extends ClusterAdapterWithHeartbeat {
  readonly published: number[] = [];
  constructor(nsp: unknown) {
    super(nsp, { heartbeatInterval: 60_000, heartbeatTimeout: 120_000 });
  }
  protected override doPublish(message: { type: number }): Promise<string> {
    this.published.push(message.type);
    return Promise.resolve('');
  }
  protected override doPublishResponse(): Promise<void> {
    return Promise.resolve();
  }
  receive(message: Parameters<ClusterAdapterWithHeartbeat['onMessage']>[0]): void {
    this.onMessage(message);
  }
}

const require = createRequire(import.meta.url);
const clusterSource = readFileSync(join(dirname(require.resolve('socket.io-adapter')), 'cluster-adapter.js'), 'utf8');

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((io) => io.close()));
});

function serverWith(options: ConstructorParameters<typeof Server>[1] = {}): Server {
  const io = new Server(createServer(), { ...options, adapter: ProbeAdapter as never });
  servers.push(io);
  return io;
}

describe('socket.io-adapter internals used by the adapter', () => {
  it('MessageType keeps the numbers stored in MongoDB documents', () => {
    expect(MessageType.BROADCAST).toBe(3);
    expect(MessageType.ADAPTER_CLOSE).toBe(13);
    expect(MessageType.SERVER_SIDE_EMIT_RESPONSE).toBe(10);
  });

  it('ClusterAdapterWithHeartbeat still has a private removeNode and nodesMap', () => {
    expect(heartbeatInternalsPresent()).toBe(true);
    const adapter = serverWith().of('/').adapter as unknown as ProbeAdapter;
    expect(memberUids(adapter)).toEqual([]);
    adapter.receive({ uid: 'other-node', nsp: '/', type: MessageType.HEARTBEAT });
    expect(memberUids(adapter)).toEqual(['other-node']);
    expect(countsOn(adapter, 'other-node')).toBe(true);
  });

  it('every removal of a node (ADAPTER_CLOSE, heartbeat timeout) goes through removeNode', () => {
    const adapter = serverWith().of('/').adapter as unknown as ProbeAdapter;
    const removed: string[] = [];
    expect(onNodeRemoved(adapter, (uid) => removed.push(uid))).toBe(true);
    adapter.receive({ uid: 'n1', nsp: '/', type: MessageType.HEARTBEAT });
    adapter.receive({ uid: 'n1', nsp: '/', type: MessageType.ADAPTER_CLOSE });
    expect(removed).toEqual(['n1']);
    expect(countsOn(adapter, 'n1')).toBe(false);
    // The heartbeat sweep calls the same method (its source says so: no other hook exists).
    const source = ClusterAdapterWithHeartbeat.prototype.constructor.toString();
    expect(source).toMatch(/this\.removeNode\(uid\)/);
  });

  it("its eviction sweep can be taken over: socket.io's own interval stops, removals still go through removeNode", async () => {
    const adapter = serverWith().of('/').adapter as unknown as ProbeAdapter;
    const removed: string[] = [];
    onNodeRemoved(adapter, (uid) => removed.push(uid));
    const internals = adapter as unknown as { nodesMap: Map<string, number>; cleanupTimer: NodeJS.Timeout };
    const sweepTimer = internals.cleanupTimer;
    expect(sweepTimer).toBeDefined();
    expect(clusterSource).toMatch(/this\.cleanupTimer = setInterval\(/);
    const sweep = takeOverEviction(adapter);
    expect(sweep).toBeDefined();
    // Silent for an hour by socket.io's wall clock: its own sweep (every second) would remove both.
    adapter.receive({ uid: 'n1', nsp: '/', type: MessageType.HEARTBEAT });
    adapter.receive({ uid: 'n2', nsp: '/', type: MessageType.HEARTBEAT });
    internals.nodesMap.set('n1', Date.now() - 3_600_000);
    internals.nodesMap.set('n2', Date.now() - 3_600_000);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect(memberUids(adapter)).toEqual(['n1', 'n2']);
    sweep!((lastSeen) => lastSeen < Date.now() - 60_000 && removed.length === 0);
    expect(removed).toEqual(['n1']);
    expect(memberUids(adapter)).toEqual(['n2']);
  });

  it('a local-only broadcast is delivered synchronously by ClusterAdapter (local delivery order relies on it)', async () => {
    const io = serverWith();
    const adapter = io.of('/').adapter as unknown as ProbeAdapter;
    const encoded: unknown[] = [];
    const original = (adapter as unknown as { _encode: (p: unknown, o: unknown) => unknown })._encode;
    (adapter as unknown as { _encode: (p: unknown, o: unknown) => unknown })._encode = function (p, o) {
      encoded.push(p);
      return original.call(this, p, o);
    };
    void adapter.broadcast({ type: EVENT_PACKET, data: ['x'] }, { rooms: new Set(), flags: { local: true } });
    expect(encoded).toHaveLength(1);
    expect(adapter.published).not.toContain(MessageType.BROADCAST);
  });

  it("reads connection state recovery from the server's options, as ClusterAdapter does", () => {
    const off = serverWith();
    const on = serverWith({ connectionStateRecovery: { maxDisconnectionDuration: 1234 } });
    expect(connectionStateRecovery(off as never)).toBeUndefined();
    expect(connectionStateRecovery(on as never)?.maxDisconnectionDuration).toBe(1234);
    // The field the shim reads is the one socket.io-adapter reads.
    expect(clusterSource).toContain('this.nsp.server.opts.connectionStateRecovery');
  });

  it("mirrors socket.io's rule for recoverable packets", () => {
    expect(isRecoverablePacket({ type: EVENT_PACKET, data: ['a'] }, undefined)).toBe(true);
    expect(isRecoverablePacket({ type: EVENT_PACKET, data: ['a'], id: 1 }, undefined)).toBe(false);
    expect(isRecoverablePacket({ type: EVENT_PACKET, data: ['a'] }, true)).toBe(false);
    expect(clusterSource).toMatch(/packet\.type === 2/);
    expect(clusterSource).toMatch(/packet\.id === undefined/);
  });

  it('no other source file uses a socket.io internal or a hard-coded message type', () => {
    const srcDir = new URL('../src/', import.meta.url);
    for (const file of readdirSync(srcDir)) {
      if (file === 'socket-io-shim.ts') continue;
      const source = readFileSync(new URL(file, srcDir), 'utf8');
      expect(source, file).not.toMatch(
        /nodesMap|removeNode\b|cleanupTimer|Adapter\.prototype\.|server\.opts|_onServerSideEmit/,
      );
      expect(source, file).not.toMatch(/\btype\s*===\s*\d|\bBROADCAST\s*=\s*\d/);
    }
  });
});
