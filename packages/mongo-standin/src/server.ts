import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { resetCounters, type StandInCounters } from './counters.js';
import { requireNonNegativeMs, StandInError } from './errors.js';
import { Faults } from './faults.js';
import { MemberListener } from './listener.js';
import { DEFAULT_PERIODIC_NOOP_INTERVAL_MS, NoopWriter } from './noop-writer.js';
import { ReplicaSet } from './replica-set.js';
import { DEFAULT_TTL_MONITOR_INTERVAL_MS, TtlMonitor } from './ttl.js';

export interface MongoStandInOptions {
  /** TCP port of the first member (the others take the next ones); 0 (default): each picks a free port. */
  port?: number;
  /** Interface to bind (default 127.0.0.1). */
  host?: string;
  /** Host name put in the URI and in hello's `hosts`/`me` (default: `host`, or 127.0.0.1 for wildcard binds). */
  advertisedHost?: string;
  /** Replica set name reported in hello and put in the URI (default 'rs0'). */
  replicaSetName?: string;
  /** Members of the replica set, each on its own port (default 1). */
  members?: number;
  /** Oplog bound in entries, per member (default 100 000): older writes fall off and their resume tokens expire (286). */
  oplogSize?: number;
  /** Oplog bound in bytes of documents, per member (default 256 MiB). */
  oplogMaxBytes?: number;
  /** How often the TTL monitor runs on the primary (default 60 s, mongod's `ttlMonitorSleepSecs`). */
  ttlMonitorIntervalMs?: number;
  /** How often an idle primary writes a no-op (default 10 s, mongod's `periodicNoopIntervalSecs`). */
  periodicNoopIntervalMs?: number;
}

export interface RestartOptions {
  /** Keep documents, indexes and oplog (default true). Without data, every earlier resume token is lost (286). */
  keepData?: boolean;
  /** Time between going down and listening again (default 0). */
  downtimeMs?: number;
}

/** One member as the handle shows it. */
export interface MemberInfo {
  /** Its `_id` in the replica set configuration (and index in `members`). */
  index: number;
  /** `host:port`, as hello names it. */
  address: string;
  port: number;
  /** A URI that connects to this member alone (`directConnection=true`). */
  uri: string;
  state: 'PRIMARY' | 'SECONDARY';
}

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

function positiveMs(name: string, value: number | undefined, fallback: number): number {
  const ms = value ?? fallback;
  if (!Number.isFinite(ms) || ms <= 0) {
    throw new StandInError(
      'STANDIN_INVALID_OPTION',
      `${name} must be a positive number of milliseconds, got ${String(value)}`,
    );
  }
  return ms;
}

/**
 * A MongoDB wire-protocol stand-in: an in-memory replica set for tests (one member by default), with fault
 * injection. Not a database: no durability, no transactions, no query planner, and only what README.md lists.
 */
export class MongoStandIn {
  readonly faults: Faults;
  private readonly set: ReplicaSet;
  private readonly listeners: MemberListener[];
  private readonly ttlMonitor: TtlMonitor;
  private readonly noopWriter: NoopWriter;
  private readonly host: string;
  private readonly advertisedHost: string;

  private constructor(options: MongoStandInOptions) {
    this.host = options.host ?? '127.0.0.1';
    this.advertisedHost = options.advertisedHost ?? (['0.0.0.0', '::'].includes(this.host) ? '127.0.0.1' : this.host);
    const oplogSize = options.oplogSize ?? 100_000;
    if (!Number.isInteger(oplogSize) || oplogSize < 1) {
      throw new StandInError(
        'STANDIN_INVALID_OPTION',
        `oplogSize must be a positive integer (entries), got ${String(options.oplogSize)}`,
      );
    }
    const ttlInterval = positiveMs(
      'ttlMonitorIntervalMs',
      options.ttlMonitorIntervalMs,
      DEFAULT_TTL_MONITOR_INTERVAL_MS,
    );
    const noopInterval = positiveMs(
      'periodicNoopIntervalMs',
      options.periodicNoopIntervalMs,
      DEFAULT_PERIODIC_NOOP_INTERVAL_MS,
    );
    this.set = new ReplicaSet(options.replicaSetName ?? 'rs0', options.members ?? 1, {
      maxEntries: oplogSize,
      maxBytes: options.oplogMaxBytes ?? 256 * 1024 * 1024,
    });
    // As mongod's getParameter reports them (in seconds).
    this.set.parameters.ttlMonitorSleepSecs = ttlInterval / 1000;
    this.set.parameters.periodicNoopIntervalSecs = noopInterval / 1000;
    this.listeners = this.set.members.map((member) => new MemberListener(member, this.host));
    this.ttlMonitor = new TtlMonitor(this.set, ttlInterval);
    this.noopWriter = new NoopWriter(this.set, noopInterval);
    this.faults = new Faults(this.set, {
      dropConnections: (member) =>
        (member === undefined ? this.listeners : [this.listeners[member]!]).reduce(
          (dropped, listener) => dropped + listener.dropConnections(),
          0,
        ),
    });
  }

  /** Starts a stand-in and resolves once every member accepts connections. */
  static async start(options: MongoStandInOptions = {}): Promise<MongoStandIn> {
    const standIn = new MongoStandIn(options);
    const port = options.port ?? 0;
    try {
      for (const [i, listener] of standIn.listeners.entries()) await listener.listen(port === 0 ? 0 : port + i);
    } catch (err) {
      await standIn.stop();
      throw err;
    }
    standIn.addressMembers();
    standIn.startBackgroundTasks();
    return standIn;
  }

  /** `mongodb://host:port,host:port,.../?replicaSet=rs0`: every member, ready for `new MongoClient(uri)`. */
  get uri(): string {
    const hosts = this.set.members.map((m) => m.address).join(',');
    return `mongodb://${hosts}/?replicaSet=${this.set.name}`;
  }

  /** The first member's port. */
  get port(): number {
    return this.listeners[0]!.port;
  }

  /** The members, in configuration order, with their current state. */
  get members(): MemberInfo[] {
    return this.set.members.map((member, index) => ({
      index,
      address: member.address,
      port: this.listeners[index]!.port,
      uri: `mongodb://${member.address}/?directConnection=true`,
      state: member.isPrimary ? 'PRIMARY' : 'SECONDARY',
    }));
  }

  /** Index of the current primary, or undefined while an election is under way. */
  get primary(): number | undefined {
    return this.set.primary?.id;
  }

  /** The replica set's current term (each election increments it; `electionId` encodes it). */
  get term(): number {
    return this.set.term;
  }

  /** Live counters of what happened (see StandInCounters). */
  get counters(): StandInCounters {
    return this.set.counters;
  }

  resetCounters(): void {
    resetCounters(this.set.counters);
  }

  /** Stops listening, resets every connection, stops every timer. Idempotent. */
  async stop(): Promise<void> {
    await this.goDown();
    this.set.close();
  }

  /**
   * Goes down (all connections reset, cursors gone) and comes back on the same ports, like a restart of every
   * member. With `keepData: false`, data and oplog are wiped and older resume tokens become unusable.
   */
  async restart(options: RestartOptions = {}): Promise<void> {
    const downtime = requireNonNegativeMs('restart downtimeMs', options.downtimeMs ?? 0);
    await this.goDown();
    if (options.keepData === false) this.set.wipe();
    if (downtime > 0) await sleep(downtime);
    for (const listener of this.listeners) await listener.listen(listener.port);
    this.set.restarted();
    this.startBackgroundTasks();
    this.set.counters.restarts += 1;
  }

  private addressMembers(): void {
    for (const listener of this.listeners) {
      listener.member.address = `${formatHost(this.advertisedHost)}:${listener.port}`;
    }
  }

  private startBackgroundTasks(): void {
    this.ttlMonitor.start();
    this.noopWriter.start();
  }

  /**
   * Stops listening and the background tasks, kills every cursor, resets every connection, then waits until
   * the clients in this process have had a poll phase to read their resets: a command written after restart()
   * or stop() resolves then goes to a new connection, not into a reset socket whose error the client has not
   * read yet (which the driver would surface as a bare ECONNRESET, neither retried nor resumed).
   */
  private async goDown(): Promise<void> {
    this.ttlMonitor.stop();
    this.noopWriter.stop();
    await Promise.all(this.listeners.map((listener) => listener.close()));
    await nextTurn();
    await nextTurn();
  }
}
