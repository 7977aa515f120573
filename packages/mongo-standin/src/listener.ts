import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { ClientConnection } from './connection.js';
import { StandInError } from './errors.js';
import type { ReplicaSetMember } from './member.js';

/** One member's TCP side: its listening socket and the client connections it accepted. */
export class MemberListener {
  private server: Server | undefined;
  private readonly connections = new Set<ClientConnection>();
  private nextConnectionId = 1;
  private boundPort = 0;

  constructor(
    readonly member: ReplicaSetMember,
    private readonly host: string,
  ) {}

  get port(): number {
    return this.boundPort;
  }

  get listening(): boolean {
    return this.server !== undefined;
  }

  async listen(port: number): Promise<void> {
    const server = createServer((socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) =>
        reject(new StandInError('STANDIN_LISTEN_FAILED', `cannot listen on ${this.host}:${port}: ${err.message}`)),
      );
      server.listen(port, this.host, () => resolve());
    });
    server.on('error', () => {
      // Accept errors (EMFILE and the like) must not crash the test process; clients see refused connections.
    });
    this.server = server;
    this.boundPort = (server.address() as AddressInfo).port;
  }

  private accept(socket: Socket): void {
    const counters = this.member.counters;
    counters.connectionsAccepted += 1;
    counters.connectionsOpen += 1;
    const connection = new ClientConnection(this.nextConnectionId++, socket, this.member, () => {
      counters.connectionsOpen -= 1;
      this.connections.delete(connection);
    });
    this.connections.add(connection);
  }

  /** Drops every connection not dropped yet; they stay tracked until their sockets really close. */
  dropConnections(): number {
    let dropped = 0;
    for (const connection of this.connections) if (connection.drop()) dropped += 1;
    this.member.counters.connectionsDropped += dropped;
    return dropped;
  }

  /**
   * Stops listening, kills every cursor, resets every connection; resolves once their sockets have closed.
   * (The caller then gives clients in this process a poll phase to read the resets.)
   */
  async close(): Promise<void> {
    this.server?.close();
    this.server = undefined;
    const connections = [...this.connections];
    this.dropConnections();
    this.member.cursors.killAll();
    await Promise.all(connections.map((connection) => connection.whenClosed));
  }
}
