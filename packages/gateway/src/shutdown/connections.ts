import type { Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import type { GatewayServer } from '../types.js';

/*
 * This node's client connections, from public events: Engine.IO connections (the engine's
 * 'connection' event), whether or not the client completed its Socket.IO connect, and the TCP
 * sockets the HTTP server handed over to WebSocket ('upgrade'), which the HTTP server no longer
 * closes by itself and which the WebSocket close handshake keeps open for as long as the client does
 * not answer it. One listener function shared by every connection: an idle connection costs its entry.
 */

interface EngineConnection {
  close(discard?: boolean): void;
  on(event: 'close', listener: (this: EngineConnection) => void): unknown;
}

export interface Connections {
  /** Engine.IO connections and upgraded TCP sockets still open. */
  readonly size: number;
  /** Asks every connection to close (engine.io flushes what is buffered, WebSockets close politely). */
  closeAll(): void;
  /** Closes what is left at once: buffers discarded, upgraded sockets destroyed. Returns how many. */
  destroyRemaining(): number;
}

export function trackConnections(io: GatewayServer, httpServer: HttpServer): Connections {
  const open = new Set<EngineConnection>();
  const upgraded = new Set<Duplex>();
  function forget(this: EngineConnection): void {
    open.delete(this);
  }
  function forgetSocket(this: Duplex): void {
    upgraded.delete(this);
  }
  io.engine.on('connection', (connection: EngineConnection) => {
    open.add(connection);
    connection.on('close', forget);
  });
  httpServer.on('upgrade', (_request: unknown, socket: Duplex) => {
    if (socket.destroyed) return;
    upgraded.add(socket);
    socket.once('close', forgetSocket);
  });
  return {
    get size() {
      return open.size + upgraded.size;
    },
    closeAll() {
      for (const connection of [...open]) connection.close();
    },
    destroyRemaining() {
      const remaining = open.size + upgraded.size;
      for (const connection of [...open]) connection.close(true);
      for (const socket of [...upgraded]) socket.destroy();
      return remaining;
    },
  };
}
