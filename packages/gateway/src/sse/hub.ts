import type { Logger } from 'pino';
import {
  type ChatMessage,
  type RoomEventName,
  type RoomEventPayload,
  type ShutdownNotice,
  type SseEvents,
  SwitchyardError,
} from '@switchyard/protocol';
import type { SseConfig } from '../config.js';
import type { RoomEvents } from '../rooms/room-events.js';
import { frame, messageFrame, type SseFrame } from './frames.js';
import type { SseMetrics } from './metrics.js';
import { SseStream, type SseStreamOptions } from './stream.js';

/*
 * This node's SSE streams, by room. Room events arrive from `RoomEvents` (this node's emits and
 * the relays of the others), are encoded once and offered to every stream of the room. One
 * timer beats the heartbeat of all streams. Admission enforces the per-node and per-client
 * stream limits.
 */

export interface SseHubOptions {
  roomEvents: RoomEvents;
  config: SseConfig;
  metrics: SseMetrics;
  log: Logger;
  /** Called when a room gets its first stream here; returns what to call when it loses its last (presence keeps such rooms current). */
  watch(room: string): () => void;
}

function encode<E extends RoomEventName>(event: E, payload: RoomEventPayload<E>): SseFrame {
  // The protocol's type test pins SseEvents[E] to RoomEventPayload<E>.
  return event === 'message:new' ? messageFrame(payload as ChatMessage) : frame(event, payload as SseEvents[E]);
}

export type OpenStreamOptions = Omit<SseStreamOptions, 'bufferBytes' | 'bufferEvents' | 'metrics' | 'onClose'>;

export class SseHub {
  readonly #config: SseConfig;
  readonly #metrics: SseMetrics;
  readonly #log: Logger;
  readonly #byRoom = new Map<string, Set<SseStream>>();
  readonly #unwatch = new Map<string, () => void>();
  readonly #watch: (room: string) => () => void;
  readonly #byClient = new Map<string, number>();
  #size = 0;
  #closing = false;
  readonly #stopListening: () => void;
  readonly #heartbeat: NodeJS.Timeout;

  constructor({ roomEvents, config, metrics, log, watch }: SseHubOptions) {
    this.#watch = watch;
    this.#config = config;
    this.#metrics = metrics;
    this.#log = log;
    this.#stopListening = roomEvents.listen((room, event, payload) => this.#deliver(room, event, payload));
    this.#heartbeat = setInterval(() => this.#beat(), config.heartbeatMs);
    this.#heartbeat.unref();
    metrics.observe(this);
  }

  /** Open streams on this node. */
  get size(): number {
    return this.#size;
  }

  bufferedBytes(): number {
    let bytes = 0;
    for (const streams of this.#byRoom.values()) for (const stream of streams) bytes += stream.bufferedBytes;
    return bytes;
  }

  /** Throws TOO_MANY_SOCKETS (409) when this node or this client has as many streams as allowed. */
  admit(clientKey: string): void {
    if (this.#closing) throw new SwitchyardError('SHUTTING_DOWN');
    if (this.#size >= this.#config.maxStreams) {
      throw new SwitchyardError(
        'TOO_MANY_SOCKETS',
        'This gateway node has as many event streams as allowed; try another node',
      );
    }
    const perClient = this.#config.maxStreamsPerClient;
    if (perClient > 0 && (this.#byClient.get(clientKey) ?? 0) >= perClient) {
      throw new SwitchyardError('TOO_MANY_SOCKETS', 'This client has as many open event streams as allowed');
    }
  }

  /** Opens a stream and subscribes it to its room at once (before any replay), in one synchronous step after `admit`. */
  open(options: OpenStreamOptions): SseStream {
    this.admit(options.clientKey);
    const stream = new SseStream({
      ...options,
      bufferBytes: this.#config.bufferBytes,
      bufferEvents: this.#config.bufferEvents,
      metrics: this.#metrics,
      onClose: (closed) => this.#remove(closed),
    });
    let streams = this.#byRoom.get(stream.room);
    if (streams === undefined) {
      this.#byRoom.set(stream.room, (streams = new Set()));
      this.#unwatch.set(stream.room, this.#watch(stream.room));
    }
    streams.add(stream);
    this.#byClient.set(stream.clientKey, (this.#byClient.get(stream.clientKey) ?? 0) + 1);
    this.#size += 1;
    return stream;
  }

  /** Draining: no new streams; every open one is told and ended, so its client reconnects elsewhere. */
  closeAll(notice: ShutdownNotice): void {
    this.#closing = true;
    const streams = [...this.#byRoom.values()].flatMap((set) => [...set]);
    if (streams.length > 0) this.#log.info({ streams: streams.length }, 'closing streams');
    for (const stream of streams) stream.shutdown(notice);
  }

  /** Stops the heartbeat and the room event subscription (on close). */
  stop(): void {
    clearInterval(this.#heartbeat);
    this.#stopListening();
  }

  /** Offers one room event to one stream (its first presence event, say), encoded as every stream gets it. */
  offerTo<E extends RoomEventName>(stream: SseStream, event: E, payload: RoomEventPayload<E>): void {
    stream.offer(encode(event, payload));
  }

  #deliver<E extends RoomEventName>(room: string, event: E, payload: RoomEventPayload<E>): void {
    const streams = this.#byRoom.get(room);
    if (streams === undefined) return;
    if (this.#log.isLevelEnabled('debug'))
      this.#log.debug({ room, event, streams: streams.size }, 'offered to streams');
    const encoded = encode(event, payload);
    for (const stream of streams) stream.offer(encoded);
  }

  #beat(): void {
    for (const streams of this.#byRoom.values()) for (const stream of streams) stream.heartbeat();
  }

  #remove(stream: SseStream): void {
    const streams = this.#byRoom.get(stream.room);
    if (streams === undefined || !streams.delete(stream)) return;
    if (streams.size === 0) {
      this.#byRoom.delete(stream.room);
      this.#unwatch.get(stream.room)?.();
      this.#unwatch.delete(stream.room);
    }
    const left = (this.#byClient.get(stream.clientKey) ?? 1) - 1;
    if (left <= 0) this.#byClient.delete(stream.clientKey);
    else this.#byClient.set(stream.clientKey, left);
    this.#size -= 1;
  }
}
