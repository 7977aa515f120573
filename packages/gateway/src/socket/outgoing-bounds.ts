import type { Logger } from 'pino';
import { Counter, Gauge } from 'prom-client';
import { ERRORS } from '@switchyard/protocol';
import { METRIC_NAMES, type GatewayMetrics } from '../metrics/registry.js';
import { closeAfterNotice } from '../shutdown/notice-handover.js';
import type { GatewayServer, GatewaySocket } from '../types.js';

/*
 * Bounded outgoing queues. Engine.IO queues every packet for a socket in its write buffer while the
 * transport cannot take more (a WebSocket whose peer stopped reading, once the kernel's buffers are
 * full; a long-polling client between two polls), with no limit: one stalled client in a busy room
 * would grow the server's memory for as long as the room talks. Here each socket's backlog is
 * counted, through Engine.IO's public API only, and a socket past SOCKET_BUFFER_BYTES or
 * SOCKET_BUFFER_PACKETS is closed with SLOW_CONSUMER:
 *
 * - `packetCreate` (on each Engine.IO socket) comes before a packet joins the write buffer; when the
 *   transport is not `writable` then, the packet waits, and is counted against the socket.
 * - the socket's `flush` event (listened to only while it has a backlog) says its whole write buffer
 *   went to its transport: its backlog is 0.
 * - a socket past a bound gets `server:disconnect` (SLOW_CONSUMER) behind what it already has, and its
 *   Engine.IO socket is closed: from then Engine.IO queues nothing more for it. A client that catches up
 *   reads the notice, then the close; one that does not is cut off (`close(true)` discards the buffer)
 *   after CLOSE_GRACE_MS. Engine.IO reports that as "forced close", which Socket.IO treats like any lost
 *   connection: with connection state recovery the session is kept, and the client reconnects and
 *   gets what it missed.
 *
 * A backlogged socket costs at most its bounds (plus the one batch its transport is writing), and
 * nothing here waits on it: every other socket is written as before. Only sockets with a backlog have
 * state here; an idle or healthy socket costs one listener.
 */

export interface OutgoingBounds {
  /** Bytes waiting in write buffers right now, across this node's sockets. */
  queuedBytes(): number;
  close(): void;
}

export interface OutgoingBoundsOptions {
  io: GatewayServer;
  maxBytes: number;
  maxPackets: number;
  metrics: GatewayMetrics;
  log: Logger;
}

/** How long a socket closed as too slow may take to read its notice before it is cut off. */
export const CLOSE_GRACE_MS = 5000;

/** The Engine.IO socket, as far as its public API goes. */
type EngineSocket = GatewaySocket['conn'];

interface Backlog {
  packets: number;
  bytes: number;
}

export function boundOutgoingQueues({ io, maxBytes, maxPackets, metrics, log }: OutgoingBoundsOptions): OutgoingBounds {
  const backlogs = new Map<EngineSocket, Backlog>();
  const owners = new WeakMap<EngineSocket, GatewaySocket>();
  const closes = new Counter({
    name: METRIC_NAMES.slowConsumerCloses,
    help: 'Sockets closed with SLOW_CONSUMER because more than SOCKET_BUFFER_BYTES or SOCKET_BUFFER_PACKETS waited to be written to them',
    labelNames: ['transport'],
    registers: [metrics.registry],
  });
  new Gauge({
    name: METRIC_NAMES.queuedBytes,
    help: 'Bytes waiting in socket write buffers on this node (sockets whose transport cannot take more yet)',
    registers: [metrics.registry],
    collect() {
      this.set(queuedBytes());
    },
  });

  function queuedBytes(): number {
    let bytes = 0;
    for (const backlog of backlogs.values()) bytes += backlog.bytes;
    return bytes;
  }

  // Engine.IO documents the arguments as (type, data); it passes the packet object. Either way, the data.
  function onPacketCreate(this: EngineSocket, packet: unknown, data?: unknown): void {
    if (this.transport.writable) return; // flushed right away: no backlog
    let backlog = backlogs.get(this);
    if (backlog === undefined) {
      backlogs.set(this, (backlog = { packets: 0, bytes: 0 }));
      // Listened to only while there is a backlog: a healthy socket's packets cost one check each.
      this.once('flush', onFlush);
    }
    backlog.packets += 1;
    backlog.bytes += sizeOf(typeof packet === 'object' && packet !== null ? (packet as { data?: unknown }).data : data);
    if (backlog.packets > maxPackets || backlog.bytes > maxBytes) tooSlow(this, backlog);
  }

  /** The socket's whole write buffer went to its transport. */
  function onFlush(this: EngineSocket): void {
    backlogs.delete(this);
  }

  function onClose(this: EngineSocket): void {
    backlogs.delete(this);
  }

  function tooSlow(conn: EngineSocket, backlog: Backlog): void {
    backlogs.delete(conn);
    conn.off('packetCreate', onPacketCreate);
    conn.off('flush', onFlush);
    const transport = conn.transport.name;
    closes.inc({ transport });
    const socket = owners.get(conn);
    log.info(
      { socketId: socket?.id, userId: socket?.data.user?.id, transport, ...backlog },
      'slow consumer disconnected',
    );
    // After the packet being created now (it joins the buffer once this listener returns).
    queueMicrotask(() => {
      // Behind what the client already has: it reads why, once it reads at all. Then "closing":
      // Engine.IO queues nothing more; it closes the transport once the buffer is written.
      if (socket === undefined) conn.close();
      else
        void closeAfterNotice(socket, 'server:disconnect', () => {
          socket.emit('server:disconnect', { code: 'SLOW_CONSUMER', message: ERRORS.SLOW_CONSUMER.message });
          metrics.eventsOut.inc({ event: 'server:disconnect' });
        });
      const cutOff = setTimeout(() => conn.close(true), CLOSE_GRACE_MS);
      cutOff.unref();
      conn.once('close', () => clearTimeout(cutOff));
    });
  }

  const onConnection = (socket: GatewaySocket): void => {
    const conn = socket.conn;
    owners.set(conn, socket);
    conn.on('packetCreate', onPacketCreate);
    conn.on('close', onClose);
  };
  io.on('connection', onConnection);

  return {
    queuedBytes,
    close() {
      io.off('connection', onConnection);
      backlogs.clear();
    },
  };
}

/*
 * A broadcast hands the same encoded string to every socket of the room, one after the other: its
 * byte length is counted once, not once per backlogged socket (a scan of the whole string each).
 */
let lastText: string | undefined;
let lastTextBytes = 0;

function sizeOf(data: unknown): number {
  if (typeof data === 'string') {
    if (data !== lastText) {
      lastText = data;
      lastTextBytes = Buffer.byteLength(data);
    }
    return lastTextBytes;
  }
  if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return data.byteLength;
  return 0;
}
