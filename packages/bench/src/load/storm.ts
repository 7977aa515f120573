import { createClient, type SwitchyardClient } from '@switchyard/client';
import { io, type Socket } from 'socket.io-client';
import { authFactory, type AuthSpec } from './auth.js';
import { forEachLimited } from './concurrency.js';
import { LatencyRecorder } from '../harness/latency.js';

/*
 * The reconnect storm's clients: a crowd connected through the balancer, then, after `begin`, every
 * client that loses its connection (those of the node the orchestrator kills) is a victim, timed from
 * `begin` until it is connected again. Each reconnection attempt is timed too (Manager
 * `reconnect_attempt` to `connect`): the handshake latency the survivors give under the storm.
 *
 * `socketio` clients are socket.io-client with its defaults (the baseline); `sdk` clients are
 * @switchyard/client, whose reconnection uses full jitter and honours Retry-After.
 */

export interface StormConnectParams {
  url: string;
  clients: number;
  kind: 'socketio' | 'sdk';
  transport: 'websocket' | 'polling';
  auth: AuthSpec;
  concurrency: number;
  /** Client i joins room `storm-<i % rooms>`. */
  rooms: number;
}

export interface StormStatus {
  victims: number;
  back: number;
  elapsedMs: number;
}

export interface StormResult extends StormStatus {
  /** Time from `begin` until 95 % / all of the victims were connected again. */
  t95Ms: number | undefined;
  t100Ms: number | undefined;
  /** Successful reconnection attempts, attempt start to connect. */
  handshakeP50Ms: number | undefined;
  handshakeP99Ms: number | undefined;
  /** Reconnection attempts made by the victims (failed ones included). */
  attempts: number;
}

interface Tracked {
  socket: Socket;
  /** Sends a message to the client's room (the SDK's `room.send`, or the raw event). */
  send(text: string): Promise<unknown>;
  room: string;
  /** Whether a room message reached it: it holds an offset, so its session could be restored. */
  primed: boolean;
  lostAt: number | undefined;
  backAt: number | undefined;
  attemptAt: number | undefined;
}

export class StormClients {
  private readonly tracked: Tracked[] = [];
  private readonly sdkClients: SwitchyardClient[] = [];
  private begunAt: number | undefined;
  private readonly handshakes = new LatencyRecorder();
  private attempts = 0;

  static async connect(params: StormConnectParams): Promise<StormClients> {
    const crowd = new StormClients();
    const authFor = await authFactory(params.auth, params.clients);
    try {
      await forEachLimited(params.clients, params.concurrency, async (index) => {
        await crowd.open(params, authFor(index), `storm-${index % params.rooms}`);
      });
    } catch (error) {
      crowd.close();
      throw error;
    }
    return crowd;
  }

  get size(): number {
    return this.tracked.length;
  }

  private async open(params: StormConnectParams, auth: Record<string, unknown>, room: string): Promise<void> {
    let socket: Socket;
    let send: Tracked['send'];
    let counter = 0;
    if (params.kind === 'sdk') {
      const client = createClient(params.url, {
        ...(typeof auth.token === 'string' ? { token: auth.token } : { name: String(auth.name) }),
        transports: [params.transport],
        ackTimeoutMs: 30_000,
      });
      this.sdkClients.push(client);
      socket = client.socket as unknown as Socket;
      const joined = await client.join(room);
      send = (text) => joined.send(text);
    } else {
      socket = io(params.url, { transports: [params.transport], auth, forceNew: true });
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', () => resolve());
        socket.once('connect_error', (error) => reject(new Error(`connect_error: ${error.message}`)));
      });
      await socket.timeout(30_000).emitWithAck('room:join', { room });
      send = (text) =>
        socket.timeout(30_000).emitWithAck('message:send', { room, text, clientMessageId: `p${++counter}` });
    }
    const entry: Tracked = {
      socket,
      send,
      room,
      primed: false,
      lostAt: undefined,
      backAt: undefined,
      attemptAt: undefined,
    };
    this.tracked.push(entry);
    socket.on('message:new', () => void (entry.primed = true));
    socket.on('disconnect', () => {
      if (this.begunAt === undefined || entry.lostAt !== undefined) return;
      entry.lostAt = performance.now();
    });
    socket.io.on('reconnect_attempt', () => {
      if (entry.lostAt === undefined || entry.backAt !== undefined) return;
      entry.attemptAt = performance.now();
      this.attempts += 1;
    });
    socket.on('connect', () => {
      if (entry.lostAt === undefined || entry.backAt !== undefined) return;
      entry.backAt = performance.now();
      if (entry.attemptAt !== undefined) this.handshakes.recordMs(entry.backAt - entry.attemptAt);
    });
  }

  /**
   * One message in every room, and every client has received one: each now holds the offset that a
   * session restore would resume from (without it, socket.io does not even try to restore).
   */
  async prime(): Promise<boolean> {
    const senders = new Map<string, Tracked>();
    for (const entry of this.tracked) if (!senders.has(entry.room)) senders.set(entry.room, entry);
    await Promise.all([...senders.values()].map((entry) => entry.send('prime')));
    const deadline = performance.now() + 30_000;
    while (this.tracked.some((entry) => !entry.primed)) {
      if (performance.now() > deadline) throw new Error('not every client received its room message in 30 s');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return true;
  }

  /** From now on, a client that loses its connection is a victim of the storm. */
  begin(): boolean {
    this.begunAt = performance.now();
    return true;
  }

  status(): StormStatus {
    const victims = this.tracked.filter((entry) => entry.lostAt !== undefined);
    return {
      victims: victims.length,
      back: victims.filter((entry) => entry.backAt !== undefined).length,
      elapsedMs: this.begunAt === undefined ? 0 : performance.now() - this.begunAt,
    };
  }

  result(): StormResult {
    const begun = this.begunAt ?? performance.now();
    const times = this.tracked
      .filter((entry) => entry.lostAt !== undefined)
      .map((entry) => (entry.backAt === undefined ? Number.POSITIVE_INFINITY : entry.backAt - begun))
      .sort((a, b) => a - b);
    const at = (share: number): number | undefined => {
      if (times.length === 0) return undefined;
      const value = times[Math.max(0, Math.ceil(share * times.length) - 1)]!;
      return Number.isFinite(value) ? value : undefined;
    };
    const handshake = this.handshakes.summary();
    return {
      ...this.status(),
      t95Ms: at(0.95),
      t100Ms: at(1),
      handshakeP50Ms: handshake.count > 0 ? handshake.p50 : undefined,
      handshakeP99Ms: handshake.count > 0 ? handshake.p99 : undefined,
      attempts: this.attempts,
    };
  }

  close(): void {
    for (const client of this.sdkClients.splice(0)) client.close();
    for (const entry of this.tracked.splice(0)) entry.socket.disconnect();
  }
}
