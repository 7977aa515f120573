import type { IncomingMessage } from 'node:http';
import { connect as tcpConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { errorAnswerUpgrade, sessionUnknownUpgrade } from './engine-answers.js';
import type { ForwardMetrics } from './forward-metrics.js';
import { FORWARD_HEADER, type ForwardSigner } from './forward-signature.js';
import type { ForwardTarget, InFlight } from './http-forwarder.js';

/*
 * The WebSocket upgrade of a polling session (`GET ...&transport=websocket&sid=<id>`, `Upgrade:
 * websocket`) that reached a node other than the session's owner: this node opens a TCP connection to
 * the owner, sends it the same request head (signed), and from then on copies bytes both ways. The
 * owner answers the upgrade (101, or 400 if it no longer holds the session) and speaks WebSocket with
 * the client through the two sockets; this node never parses a frame.
 *
 * The bytes a client might send after its request head and before the 101 (the "upgrade head") are
 * not seen here: RFC 6455 §4.1 has the client wait for the server's handshake before sending frames.
 */

export interface UpgradeProxyOptions {
  signer: ForwardSigner;
  self: string;
  timeoutMs: number;
  inFlight: InFlight;
  metrics: ForwardMetrics;
}

export function proxyUpgrade(
  req: IncomingMessage,
  client: Duplex,
  target: ForwardTarget,
  options: UpgradeProxyOptions,
): void {
  const { signer, self, timeoutMs, inFlight, metrics } = options;
  const started = performance.now();
  const done = (outcome: Parameters<ForwardMetrics['outcome']>[1]): void =>
    metrics.outcome('upgrade', outcome, (performance.now() - started) / 1000);
  const leave = inFlight.enter();
  if (leave === undefined) {
    done('overloaded');
    errorAnswerUpgrade(client, 'OVERLOADED', { 'Retry-After': '1' });
    return;
  }
  const url = new URL(target.url);
  const secure = url.protocol === 'https:';
  const port = Number(url.port || (secure ? 443 : 80));
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const upstream: Socket = secure
    ? tlsConnect({ host, port, servername: host, ALPNProtocols: ['http/1.1'] })
    : tcpConnect({ host, port });
  let settled = false;
  const settle = (outcome: Parameters<ForwardMetrics['outcome']>[1]): void => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    leave();
    done(outcome);
  };
  // Until the owner's first byte (its 101 or its refusal): connecting, then waiting for the answer.
  const timer = setTimeout(() => {
    upstream.destroy();
    if (!settled) errorAnswerUpgrade(client, 'TIMEOUT');
    settle('timeout');
  }, timeoutMs);

  client.on('error', () => upstream.destroy());
  client.once('close', () => {
    upstream.destroy();
    settle('aborted');
  });
  upstream.on('error', () => {
    if (!settled) {
      settle('owner_unreachable');
      sessionUnknownUpgrade(client);
    } else client.destroy();
  });
  upstream.once('close', () => client.destroy());
  upstream.once(secure ? 'secureConnect' : 'connect', () => {
    upstream.setNoDelay(true);
    upstream.write(
      requestHead(
        req,
        url.host,
        signer.sign({ method: req.method ?? 'GET', url: req.url ?? '/' }, self, target.nodeId),
      ),
    );
    upstream.once('data', () => settle('forwarded'));
    upstream.pipe(client);
    client.pipe(upstream);
  });
}

/** The client's request head, as it came (names and order kept), for the owner; hop-by-hop headers of the upgrade stay. */
function requestHead(req: IncomingMessage, host: string, signature: string): string {
  const lines = [`${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/1.1`, `Host: ${host}`];
  const raw = req.rawHeaders;
  let forwardedFor: string | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    const lower = name.toLowerCase();
    if (lower === 'host' || lower === FORWARD_HEADER) continue;
    if (lower === 'x-forwarded-for') {
      forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`;
      continue;
    }
    lines.push(`${name}: ${value}`);
  }
  const remote = req.socket.remoteAddress;
  if (remote !== undefined) forwardedFor = forwardedFor === undefined ? remote : `${forwardedFor}, ${remote}`;
  if (forwardedFor !== undefined) lines.push(`X-Forwarded-For: ${forwardedFor}`);
  lines.push(`${FORWARD_HEADER}: ${signature}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}
