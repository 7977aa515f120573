import { createServer, type AddressInfo, type Server } from 'node:net';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { ClientConnection } from './connection.js';
import { resetCounters, type StandInCounters } from './counters.js';
import { requireNonNegativeMs, StandInError } from './errors.js';
import { Faults } from './faults.js';
import { ReplicaSetMember } from './member.js';
import { reapExpired } from './ttl.js';

export interface MongoStandInOptions {
  /** TCP port; 0 (default) picks a free one. */
  port?: number;
  /** Interface to bind (default 127.0.0.1). */
  host?: string;
  /** Host name put in the URI and in hello's `hosts`/`me` (default: `host`, or 127.0.0.1 for wildcard binds). */
  advertisedHost?: string;
  /** Replica set name reported in hello and put in the URI (default 'rs0'). */
  replicaSetName?: string;
  /** Oplog bound in entries (default 100 000): older writes fall off and their resume tokens expire (286). */
  oplogSize?: number;
  /** Oplog bound in bytes of documents (default 256 MiB). */
  oplogMaxBytes?: number;
  /** How often the TTL monitor runs (default 250 ms; mongod's is 60 s). */
  ttlMonitorIntervalMs?: number;
}

export interface RestartOptions {
  /** Keep documents, indexes and oplog (default true). Without data, every earlier resume token is lost (286). */
  keepData?: boolean;
  /** Time between going down and listening again (default 0). */
  downtimeMs?: number;
}

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * A MongoDB wire-protocol stand-in: an in-memory, single-node "replica set" for tests, with fault injection.
 * Not a database: no durability, no transactions, no query planner, and only what README.md lists.
 */
export class MongoStandIn {
  readonly faults: Faults;
  private readonly member: ReplicaSetMember;
  private server: Server | undefined;
  private readonly connections = new Set<ClientConnection>();
  private nextConnectionId = 1;
  private ttlTimer: NodeJS.Timeout | undefined;
  private boundPort = 0;
  private readonly host: string;
  private readonly advertisedHost: string;

  private constructor(private readonly options: MongoStandInOptions) {
    this.host = options.host ?? '127.0.0.1';
    this.advertisedHost = options.advertisedHost ?? (['0.0.0.0', '::'].includes(this.host) ? '127.0.0.1' : this.host);
    const oplogSize = options.oplogSize ?? 100_000;
    if (!Number.isInteger(oplogSize) || oplogSize < 1) {
      throw new StandInError(
        'STANDIN_INVALID_OPTION',
        `oplogSize must be a positive integer (entries), got ${String(options.oplogSize)}`,
      );
    }
    this.member = new ReplicaSetMember(options.replicaSetName ?? 'rs0', {
      maxEntries: oplogSize,
      maxBytes: options.oplogMaxBytes ?? 256 * 1024 * 1024,
    });
    this.faults = new Faults(this.member, { dropConnections: () => this.dropConnections() });
  }

  /** Starts a stand-in and resolves once it accepts connections. */
  static async start(options: MongoStandInOptions = {}): Promise<MongoStandIn> {
    const standIn = new MongoStandIn(options);
    await standIn.listen(options.port ?? 0);
    return standIn;
  }

  /** `mongodb://host:port/?replicaSet=rs0`, ready for `new MongoClient(uri)`. */
  get uri(): string {
    return `mongodb://${formatHost(this.advertisedHost)}:${this.boundPort}/?replicaSet=${this.member.setName}`;
  }

  get port(): number {
    return this.boundPort;
  }

  /** Live counters of what happened (see StandInCounters). */
  get counters(): StandInCounters {
    return this.member.counters;
  }

  resetCounters(): void {
    resetCounters(this.member.counters);
  }

  /** Stops listening, resets every connection, stops every timer. Idempotent. */
  async stop(): Promise<void> {
    await this.goDown();
    this.member.oplog.close();
  }

  /**
   * Goes down (all connections reset, cursors gone) and comes back on the same port, like a mongod
   * restart. With `keepData: false`, data and oplog are wiped and older resume tokens become unusable.
   */
  async restart(options: RestartOptions = {}): Promise<void> {
    const downtime = requireNonNegativeMs('restart downtimeMs', options.downtimeMs ?? 0);
    await this.goDown();
    if (options.keepData === false) this.member.wipe();
    if (downtime > 0) await sleep(downtime);
    await this.listen(this.boundPort);
    this.member.counters.restarts += 1;
  }

  private async listen(port: number): Promise<void> {
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
    this.member.address = `${formatHost(this.advertisedHost)}:${this.boundPort}`;
    const interval = this.options.ttlMonitorIntervalMs ?? 250;
    this.ttlTimer = setInterval(() => {
      if (!this.member.isPrimary) return;
      this.member.counters.ttlDeletes += reapExpired(this.member.store);
    }, interval);
    this.ttlTimer.unref();
  }

  private accept(socket: import('node:net').Socket): void {
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
  private dropConnections(): number {
    let dropped = 0;
    for (const connection of this.connections) if (connection.drop()) dropped += 1;
    this.member.counters.connectionsDropped += dropped;
    return dropped;
  }

  /**
   * Stops listening and the TTL monitor, kills every cursor, resets every connection, then waits until the
   * clients in this process have had a poll phase to read their resets: a command written after restart()
   * or stop() resolves then goes to a new connection, not into a reset socket whose error the client has
   * not read yet (which the driver would surface as a bare ECONNRESET, neither retried nor resumed).
   */
  private async goDown(): Promise<void> {
    if (this.ttlTimer) clearInterval(this.ttlTimer);
    this.ttlTimer = undefined;
    this.server?.close();
    this.server = undefined;
    const connections = [...this.connections];
    this.dropConnections();
    this.member.cursors.killAll();
    await Promise.all(connections.map((connection) => connection.whenClosed));
    await nextTurn();
    await nextTurn();
  }
}
