import type { GatewayServer } from '../types.js';

/*
 * This node's Engine.IO connections, from the engine's public 'connection' event: what a drain must
 * close, whether or not the client completed its Socket.IO connect. One listener function shared by
 * every connection: an idle connection costs its entry in the set.
 */

interface EngineConnection {
  close(): void;
  on(event: 'close', listener: (this: EngineConnection) => void): unknown;
}

export interface Connections {
  readonly size: number;
  /** Closes every connection's transport (engine.io flushes what is buffered first). */
  closeAll(): void;
}

export function trackConnections(io: GatewayServer): Connections {
  const open = new Set<EngineConnection>();
  function forget(this: EngineConnection): void {
    open.delete(this);
  }
  io.engine.on('connection', (connection: EngineConnection) => {
    open.add(connection);
    connection.on('close', forget);
  });
  return {
    get size() {
      return open.size;
    },
    closeAll() {
      for (const connection of [...open]) connection.close();
    },
  };
}
