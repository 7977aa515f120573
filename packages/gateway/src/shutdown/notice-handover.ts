import type { GatewaySocket } from '../types.js';

/*
 * A socket's emit may reach its Engine.IO connection a turn later: with connection state recovery
 * on, Socket.IO sends even `socket.emit` through the adapter, and an adapter may deliver locally in
 * its next turn (the MongoDB adapter does; socket.io's cluster adapters wait for their write first).
 * Closing the transport before then loses the packet. This watches Engine.IO's public
 * `packetCreate` event: a connection is done once a packet of `event` is queued on it (closing then
 * flushes it) or once it closed. Watch before emitting: an in-memory adapter queues at once.
 */

export interface Handover {
  /** Resolves when every connection is done, or after `timeoutMs`. */
  settled(timeoutMs: number): Promise<void>;
}

interface PacketLike {
  type?: string;
  data?: unknown;
}

export function watchHandover(sockets: readonly GatewaySocket[], event: string): Handover {
  const marker = `"${event}"`;
  const cleanups: (() => void)[] = [];
  const waits = sockets.map(
    (socket) =>
      new Promise<void>((resolve) => {
        const conn = socket.conn;
        const onPacket = (packet: PacketLike): void => {
          if (packet.type === 'message' && typeof packet.data === 'string' && packet.data.includes(marker)) done();
        };
        const done = (): void => {
          conn.off('packetCreate', onPacket);
          conn.off('close', done);
          resolve();
        };
        conn.on('packetCreate', onPacket);
        conn.once('close', done);
        cleanups.push(done);
      }),
  );
  return {
    async settled(timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      });
      await Promise.race([Promise.all(waits), expired]);
      clearTimeout(timer);
      for (const cleanup of cleanups) cleanup();
    },
  };
}

/** How long a notice may take to be queued before the connection is closed anyway. */
export const NOTICE_HANDOVER_MS = 1000;

/**
 * Emits a notice (`emit` sends `event` to `socket`), then closes the socket's transport — not the
 * Socket.IO session, so the client reconnects — once the notice is queued on it (closing flushes it).
 */
export function closeAfterNotice(socket: GatewaySocket, event: string, emit: () => void): Promise<void> {
  const handover = watchHandover([socket], event);
  emit();
  return handover.settled(NOTICE_HANDOVER_MS).then(() => socket.conn.close());
}
