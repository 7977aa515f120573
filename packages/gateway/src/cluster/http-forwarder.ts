import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { type Dispatcher, errors as undiciErrors, Pool } from 'undici';
import { errorAnswer, sessionUnknown } from './engine-answers.js';
import type { ForwardKind, ForwardMetrics, ForwardOutcome } from './forward-metrics.js';
import { FORWARD_HEADER, type ForwardSigner } from './forward-signature.js';

/*
 * Forwards one Engine.IO polling request (long-poll GET or POST of packets) to the node that owns its
 * session and streams the answer back unchanged: the client cannot tell it from a request that went
 * there directly. One undici Pool per owner keeps connections between nodes alive and reused.
 *
 * A pool has no connection limit of its own: a long-poll holds its connection for up to the ping
 * interval, and a POST must never queue behind those. What bounds connections is FORWARD_MAX_IN_FLIGHT
 * (every forwarded request or upgrade being set up counts), each pool's idle connections close after
 * KEEP_ALIVE_MS, and pools are at most MAX_POOLS (owners are nodes, and workers of a node, so a few).
 */

const KEEP_ALIVE_MS = 4_000;
const MAX_POOLS = 256;

/** Headers that describe one hop, never passed on (RFC 9110 §7.6.1), and the one we sign anew. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  FORWARD_HEADER,
]);

export interface ForwardTarget {
  /** The owner's node id (what the forwarding header names). */
  nodeId: string;
  /** GATEWAY_WORKERS: the owner's worker; its node's primary routes by session, so it gets its own pool. */
  worker: number | undefined;
  /** The owner's base URL (INTERNAL_URL). */
  url: string;
}

/** Requests and upgrades being forwarded, bounded by FORWARD_MAX_IN_FLIGHT. */
export class InFlight {
  #count = 0;

  constructor(
    private readonly max: number,
    private readonly metrics: ForwardMetrics,
  ) {}

  get count(): number {
    return this.#count;
  }

  /** Takes a slot, or returns undefined when none is left; the release runs once. */
  enter(): (() => void) | undefined {
    if (this.#count >= this.max) return undefined;
    this.#count += 1;
    this.metrics.inFlight.inc();
    let left = false;
    return () => {
      if (left) return;
      left = true;
      this.#count -= 1;
      this.metrics.inFlight.dec();
    };
  }
}

export interface HttpForwarderOptions {
  signer: ForwardSigner;
  /** This node's id: the `from` of what it signs. */
  self: string;
  timeoutMs: number;
  /** How long the owner may hold a long-poll GET (the Engine.IO ping interval). */
  longPollMs: number;
  inFlight: InFlight;
  metrics: ForwardMetrics;
  log: Logger;
}

export class HttpForwarder {
  readonly #pools = new Map<string, Pool>();

  constructor(private readonly options: HttpForwarderOptions) {}

  async forward(req: IncomingMessage, res: ServerResponse, target: ForwardTarget): Promise<void> {
    const { signer, self, timeoutMs, longPollMs, inFlight, metrics } = this.options;
    const kind: ForwardKind = req.method === 'GET' ? 'poll' : 'send';
    const url = req.url ?? '/';
    const started = performance.now();
    const done = (outcome: ForwardOutcome): void =>
      metrics.outcome(kind, outcome, (performance.now() - started) / 1000);
    const leave = inFlight.enter();
    if (leave === undefined) {
      done('overloaded');
      errorAnswer(res, 'OVERLOADED', { 'Retry-After': '1' });
      return;
    }
    const abort = new AbortController();
    const onClientGone = (): void => {
      if (!res.writableFinished) abort.abort();
    };
    res.once('close', onClientGone);
    try {
      const headers = forwardedHeaders(req.headers, req.socket.remoteAddress);
      headers[FORWARD_HEADER] = signer.sign({ method: req.method ?? 'GET', url }, self, target.nodeId);
      const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
      // stream(): the owner's answer is written straight into `res`, no intermediate stream.
      await this.#pool(target).stream(
        {
          path: url,
          method: (req.method ?? 'GET') as Dispatcher.HttpMethod,
          headers,
          body: hasBody ? req : null,
          signal: abort.signal,
          headersTimeout: kind === 'poll' ? longPollMs + timeoutMs : timeoutMs,
          bodyTimeout: timeoutMs,
        },
        ({ statusCode, headers: answered }) => {
          res.writeHead(statusCode, answerHeaders(answered));
          return res;
        },
      );
      done('forwarded');
    } catch (error) {
      const outcome = outcomeOf(error, abort.signal.aborted);
      done(outcome);
      if (outcome === 'owner_unreachable')
        this.options.log.debug({ owner: target.nodeId, err: error }, 'owner node unreachable');
      if (!res.headersSent) {
        if (outcome === 'timeout') errorAnswer(res, 'TIMEOUT');
        else if (outcome !== 'aborted') sessionUnknown(res);
      } else res.destroy();
    } finally {
      res.off('close', onClientGone);
      leave();
    }
  }

  async close(): Promise<void> {
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(pools.map((pool) => pool.destroy().catch(() => undefined)));
  }

  #pool(target: ForwardTarget): Pool {
    const key = `${target.url}#${target.worker ?? ''}`;
    let pool = this.#pools.get(key);
    if (pool !== undefined) {
      // Most recently used last: the first entry is the one to drop when there are too many.
      this.#pools.delete(key);
      this.#pools.set(key, pool);
      return pool;
    }
    if (this.#pools.size >= MAX_POOLS) {
      const [oldestKey, oldest] = this.#pools.entries().next().value as [string, Pool];
      this.#pools.delete(oldestKey);
      void oldest.close().catch(() => undefined);
    }
    pool = new Pool(target.url, {
      connections: null,
      pipelining: 1,
      keepAliveTimeout: KEEP_ALIVE_MS,
      connectTimeout: this.options.timeoutMs,
    });
    this.#pools.set(key, pool);
    return pool;
  }
}

/** The client's end-to-end headers, plus who it is (X-Forwarded-For) for the owner's logs. */
export function forwardedHeaders(
  headers: IncomingHttpHeaders,
  remoteAddress: string | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name)) continue;
    out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  if (remoteAddress !== undefined) {
    const previous = out['x-forwarded-for'];
    out['x-forwarded-for'] = previous === undefined ? remoteAddress : `${previous}, ${remoteAddress}`;
  }
  return out;
}

function answerHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  }
  return out;
}

function outcomeOf(error: unknown, clientGone: boolean): ForwardOutcome {
  if (clientGone) return 'aborted';
  if (error instanceof undiciErrors.HeadersTimeoutError || error instanceof undiciErrors.BodyTimeoutError)
    return 'timeout';
  // Refused, reset, DNS failure, connect timeout: the owner is gone (or going), as far as the client can tell.
  return 'owner_unreachable';
}
