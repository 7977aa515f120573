import { type IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { errorAnswer, errorAnswerUpgrade } from './engine-answers.js';
import type { ForwardMetrics } from './forward-metrics.js';
import { FORWARD_HEADER, type ForwardSigner } from './forward-signature.js';
import type { HttpForwarder } from './http-forwarder.js';
import type { NodeDirectory } from './node-directory.js';
import { nodeOfSessionId, workerOfSessionId } from './session-id.js';
import type { UpgradeProxyOptions } from './upgrade-proxy.js';
import { proxyUpgrade } from './upgrade-proxy.js';

/*
 * Every Engine.IO request passes here first (an engine.io middleware: it runs before engine.io looks
 * the session up). A request of a session this node holds, or without a session (a handshake), goes on
 * to engine.io. A request of a session that another node owns (the node, and the worker, are named in
 * the session id) is forwarded there and answered from there: long-poll GETs, POSTs and the WebSocket
 * upgrade alike. So the load balancer may send any request anywhere; stickiness only saves the hop.
 *
 * A request that was forwarded to us is never forwarded again, whatever its session id says (the
 * sender's directory was stale): engine.io answers it, "Session ID unknown" if we do not hold it.
 */

export interface SessionRoutingOptions {
  nodeId: string;
  /** GATEWAY_WORKERS: this worker's id (sessions of sibling workers are forwarded through the node's own address). */
  worker: number | undefined;
  /** Whether this node holds the Engine.IO session now. */
  holds(sid: string): boolean;
  directory: NodeDirectory;
  signer: ForwardSigner;
  forwarder: HttpForwarder;
  upgrades: UpgradeProxyOptions;
  metrics: ForwardMetrics;
  log: Logger;
}

type Next = (error?: unknown) => void;

/** GATEWAY_WORKERS is at most 256: a larger worker number in a session id is not one of ours. */
const MAX_WORKER = 256;

/** Forged requests are counted one by one, but logged at most this often (they are attacker-driven). */
const FORGED_LOG_INTERVAL_MS = 10_000;

export function sessionRouting(options: SessionRoutingOptions) {
  const { nodeId, worker: selfWorker, holds, directory, signer, forwarder, upgrades, metrics, log } = options;
  let lastForgedLog = Number.NEGATIVE_INFINITY;
  let forgedSinceLog = 0;

  return (req: IncomingMessage, res: unknown, next: Next): void => {
    // engine.io hands upgrades a stand-in response object; their raw socket is the request's.
    const response = res instanceof ServerResponse ? res : undefined;
    const upgrade = response === undefined;
    const forwardedHeader = req.headers[FORWARD_HEADER];
    let forwarded = false;
    if (forwardedHeader !== undefined) {
      const check = signer.check(forwardedHeader, { method: req.method ?? 'GET', url: req.url ?? '/' });
      if (!check.ok) {
        metrics.outcome(upgrade ? 'upgrade' : req.method === 'GET' ? 'poll' : 'send', 'forged');
        forgedSinceLog += 1;
        if (performance.now() - lastForgedLog >= FORGED_LOG_INTERVAL_MS) {
          log.warn(
            { reason: check.reason, remoteAddress: req.socket.remoteAddress, refused: forgedSinceLog },
            'forged forwarded requests refused',
          );
          lastForgedLog = performance.now();
          forgedSinceLog = 0;
        }
        if (response === undefined) errorAnswerUpgrade(req.socket, 'FORBIDDEN');
        else errorAnswer(response, 'FORBIDDEN');
        return;
      }
      forwarded = true;
    }
    const sid = sessionIdOf(req.url);
    if (sid === undefined || forwarded || holds(sid)) return next();
    const owner = nodeOfSessionId(sid);
    const worker = workerOfSessionId(sid);
    if (owner === undefined || !/^[a-z0-9-]{1,63}$/.test(owner)) return next();
    if (worker !== undefined && !(Number.isInteger(worker) && worker >= 1 && worker <= MAX_WORKER)) return next();
    // Our own session that is gone, or (without workers) a worker of ours that does not exist.
    if (owner === nodeId && (worker === selfWorker || selfWorker === undefined)) return next();

    const route = (url: string | undefined): void => {
      if (url === undefined) {
        metrics.outcome(upgrade ? 'upgrade' : req.method === 'GET' ? 'poll' : 'send', 'owner_unknown');
        return next();
      }
      const target = { nodeId: owner, worker, url };
      if (response === undefined) proxyUpgrade(req, req.socket, target, upgrades);
      else void forwarder.forward(req, response, target);
    };
    // Known nodes are answered from memory, on every request: no promise on the hot path.
    const known = directory.knownUrlOf(owner);
    if (known !== undefined) return route(known);
    directory.urlOf(owner).then(route, (error: unknown) => next(error));
  };
}

/** The `sid` query parameter of an Engine.IO request URL. */
export function sessionIdOf(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  const query = url.indexOf('?');
  if (query === -1) return undefined;
  const sid = new URLSearchParams(url.slice(query + 1)).get('sid');
  return sid === null || sid === '' ? undefined : sid;
}
