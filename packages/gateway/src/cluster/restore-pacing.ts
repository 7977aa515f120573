import PQueue from 'p-queue';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Session } from 'socket.io-adapter';
import type { MongoAdapterFactory } from '@switchyard/mongo-adapter';
import type { AdmissionConfig } from '../config.js';

/*
 * Session restores, paced. Connection state recovery restores a session with queries against MongoDB
 * (the adapter takes the session document, then replays the stream from the client's offset), and a
 * node that died sends all of its clients back at once: 5,000 restores must not be 5,000 simultaneous
 * queries. Restores here wait their turn: at most RESTORE_MAX_CONCURRENT at once, started at most
 * RESTORE_RATE_PER_SECOND per second (evenly: a sliding window), at most `maxQueued` waiting. One that
 * cannot get a turn within RESTORE_MAX_WAIT_MS, or finds the queue full, is not restored: the client
 * gets a fresh session, and the SDK rejoins its rooms and reads what it missed from history.
 *
 * This is the gateway's side only, on purpose: it subclasses the adapter's public class and calls
 * `restoreSession(pid, offset)` (socket.io-adapter's API) through the queue. What it relies on from
 * `@switchyard/mongo-adapter`: `createAdapter` returns a subclassable class whose `restoreSession`
 * socket.io calls once per restore, starts its own deadline when called (not before), and resolves
 * `null` for "not restored".
 */

const RESTORE_MAX_WAIT_MS = 5_000;

export const RESTORE_METRIC_NAMES = {
  running: 'switchyard_restores_in_flight',
  runningPeak: 'switchyard_restores_in_flight_peak',
  queued: 'switchyard_restores_queued',
  skipped: 'switchyard_restores_skipped_total',
} as const;

export class RestorePacer {
  readonly #queue: PQueue;
  readonly #maxQueued: number;
  #peak = 0;
  readonly #skipped: Counter<'reason'>;

  constructor(config: AdmissionConfig, registry: Registry) {
    // One start per `interval`: the rate spread evenly rather than in bursts at each second.
    const interval = Math.max(10, 1000 / config.restoresPerSecond);
    this.#queue = new PQueue({
      concurrency: config.maxRestores,
      interval,
      intervalCap: Math.max(1, Math.round((config.restoresPerSecond * interval) / 1000)),
      strict: true,
    });
    this.#maxQueued = config.maxHandshakes;
    const registers = [registry];
    const running = new Gauge({
      name: RESTORE_METRIC_NAMES.running,
      help: 'Session restores running against MongoDB',
      registers,
    });
    const queued = new Gauge({ name: RESTORE_METRIC_NAMES.queued, help: 'Session restores waiting', registers });
    const peak = new Gauge({
      name: RESTORE_METRIC_NAMES.runningPeak,
      help: 'The most session restores running at once since start',
      registers,
    });
    this.#skipped = new Counter({
      name: RESTORE_METRIC_NAMES.skipped,
      help: 'Session restores not attempted (the client got a fresh session), by reason',
      labelNames: ['reason'],
      registers,
    });
    const update = (): void => {
      running.set(this.#queue.pending);
      queued.set(this.#queue.size);
      if (this.#queue.pending > this.#peak) peak.set((this.#peak = this.#queue.pending));
    };
    this.#queue.on('active', update);
    this.#queue.on('next', update);
    this.#queue.on('add', update);
  }

  /** The most restores ever running at once (never above RESTORE_MAX_CONCURRENT). */
  get peak(): number {
    return this.#peak;
  }

  /** Runs `restore` in turn; `skipped` when it could not get one. */
  run<T>(restore: () => Promise<T>, skipped: T): Promise<T> {
    if (this.#queue.size >= this.#maxQueued) {
      this.#skipped.inc({ reason: 'queue_full' });
      return Promise.resolve(skipped);
    }
    return this.#queue
      .add(() => restore(), { signal: AbortSignal.timeout(RESTORE_MAX_WAIT_MS) })
      .catch((error: unknown) => {
        // Aborted while waiting (the restore itself never throws: the adapter resolves null).
        if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
          this.#skipped.inc({ reason: 'waited_too_long' });
          return skipped;
        }
        throw error;
      });
  }
}

/** The MongoDB adapter with its restores going through `pacer`. */
export function withPacedRestores(Base: MongoAdapterFactory, pacer: RestorePacer): MongoAdapterFactory {
  class PacedRestoreAdapter extends Base {
    override restoreSession(pid: string, offset: string): Promise<Session> {
      // socket.io-adapter types a restore's "not restored" as Session; it is null at run time.
      return pacer.run(() => super.restoreSession(pid, offset), null as unknown as Session);
    }
  }
  return PacedRestoreAdapter;
}
