import { io, type Socket } from 'socket.io-client';
import { createClient, type ClientOptions, type SwitchyardClient, type Transport } from '@switchyard/client';

/** Creates SDK clients (and raw sockets) for one test and closes them all afterwards. */
export class ClientPool {
  readonly #clients: SwitchyardClient[] = [];
  readonly #sockets: Socket[] = [];

  constructor(readonly transports: readonly Transport[]) {}

  client(url: string, options: ClientOptions = {}): SwitchyardClient {
    const client = createClient(url, {
      transports: this.transports,
      ackTimeoutMs: 5_000,
      ...options,
      // Quick reconnects keep the tests short; the behaviour under test does not depend on the delay.
      socketOptions: { reconnectionDelay: 50, reconnectionDelayMax: 200, ...options.socketOptions },
    });
    this.#clients.push(client);
    return client;
  }

  /** A vanilla socket.io-client socket, to act behind the SDK's back. */
  socket(url: string, auth: object): Socket {
    const socket = io(url, { transports: [...this.transports], auth, forceNew: true, reconnection: false });
    this.#sockets.push(socket);
    return socket;
  }

  closeAll(): void {
    for (const client of this.#clients.splice(0)) client.close();
    for (const socket of this.#sockets.splice(0)) socket.disconnect();
  }
}
