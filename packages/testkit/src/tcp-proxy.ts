import { createServer, type Server, Socket } from 'node:net';

/**
 * A TCP proxy in front of the gateway that a test can break on purpose: hold everything the
 * gateway sends (acks never arrive, the connection stays up), drop every connection, or refuse
 * new ones. Socket.IO cannot tell it from a flaky network.
 */
export interface TcpProxy {
  url: string;
  /** Holds gateway → client bytes; client → gateway still flows. */
  holdDownstream(): void;
  /** Delivers what was held and lets bytes flow again. */
  release(): void;
  /**
   * Stops reading what the gateway sends, so it backs up in the kernel and then in the gateway, as
   * behind a client that stopped reading (`release()` reads again). Unlike `holdDownstream`, which
   * reads and keeps, this pushes back.
   */
  stallDownstream(): void;
  /** Destroys every open connection and discards held bytes. */
  dropAll(): void;
  /** While offline, open connections are dropped and new ones are closed at once. */
  setOffline(offline: boolean): void;
  /** New connections go to this port from now on (open ones stay where they are). */
  retarget(port: number): void;
  connectionCount(): number;
  close(): Promise<void>;
}

interface Pair {
  client: Socket;
  upstream: Socket;
  held: Buffer[];
  /** The gateway finished its side while bytes were held: end the client's side on release. */
  upstreamEnded: boolean;
}

export async function startTcpProxy(targetPort: number, host = '127.0.0.1'): Promise<TcpProxy> {
  const pairs = new Set<Pair>();
  let target = targetPort;
  let holding = false;
  let stalled = false;
  let offline = false;

  const server: Server = createServer({ allowHalfOpen: true }, (client) => {
    if (offline) {
      client.destroy();
      return;
    }
    const upstream = new Socket({ allowHalfOpen: true });
    const pair: Pair = { client, upstream, held: [], upstreamEnded: false };
    pairs.add(pair);
    const destroy = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', destroy).on('close', destroy);
    upstream.on('error', destroy);
    upstream.on('data', (chunk: Buffer) => (holding ? pair.held.push(chunk) : client.write(chunk)));
    upstream.on('end', () => {
      if (holding) pair.upstreamEnded = true;
      else client.end();
    });
    client.on('data', (chunk: Buffer) => upstream.write(chunk));
    client.on('end', () => upstream.end());
    upstream.connect(target, host);
    if (stalled) upstream.pause();
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy has no port');

  const dropAll = () => {
    for (const pair of [...pairs]) {
      pair.held = [];
      pair.client.destroy();
      pair.upstream.destroy();
    }
    pairs.clear();
  };

  return {
    url: `http://${host}:${address.port}`,
    holdDownstream: () => void (holding = true),
    stallDownstream: () => {
      stalled = true;
      for (const pair of pairs) pair.upstream.pause();
    },
    release: () => {
      holding = false;
      stalled = false;
      for (const pair of pairs) {
        pair.upstream.resume();
        for (const chunk of pair.held.splice(0)) pair.client.write(chunk);
        if (pair.upstreamEnded) pair.client.end();
      }
    },
    dropAll,
    setOffline: (value) => {
      offline = value;
      if (value) dropAll();
    },
    retarget: (port) => void (target = port),
    connectionCount: () => pairs.size,
    close: async () => {
      dropAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
