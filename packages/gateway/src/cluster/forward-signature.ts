import { createHmac, timingSafeEqual } from 'node:crypto';

/*
 * The one thing that makes a request "internal": a request one node forwards to the node that owns
 * its session carries `x-switchyard-forwarded: v1.<unix ms>.<from node>.<to node>.<HMAC>`, the
 * HMAC-SHA256 (CLUSTER_SECRET) of the version, time, both node ids, the method and the URL. There is
 * no internal port and no internal route: a forwarded request is an ordinary Engine.IO request, and
 * the signature only tells the receiving node that another node sent it, so it must not forward it
 * again. A request that carries the header with anything but a valid, fresh signature is refused.
 *
 * What the signature does not cover, on purpose: the body (a polling POST is streamed, never
 * buffered) and the client's own headers. Neither grants anything: the session id in the URL is what
 * any client request already presents, signed or not.
 */

export const FORWARD_HEADER = 'x-switchyard-forwarded';
const VERSION = 'v1';
/** How far the sender's clock may be from ours; a captured header is useless after this. */
export const MAX_CLOCK_SKEW_MS = 30_000;
const HEADER_PATTERN = /^v1\.(\d{13})\.([a-z0-9-]{1,63})\.([a-z0-9-]{1,63})\.([A-Za-z0-9_-]{43})$/;

export interface SignedRequest {
  method: string;
  url: string;
}

export type ForwardCheck =
  { ok: true; from: string; to: string } | { ok: false; reason: 'malformed' | 'stale' | 'bad-signature' };

export interface ForwardSigner {
  /** The header value for `request`, sent by `from` to `to`. */
  sign(request: SignedRequest, from: string, to: string, now?: number): string;
  /** Checks a received header against the request it came with. */
  check(header: string | string[] | undefined, request: SignedRequest, now?: number): ForwardCheck;
}

export function createForwardSigner(secret: string): ForwardSigner {
  const key = Buffer.from(secret, 'utf8');
  const mac = (time: string, from: string, to: string, request: SignedRequest): Buffer =>
    createHmac('sha256', key)
      .update([VERSION, time, from, to, request.method.toUpperCase(), request.url].join('\n'))
      .digest();
  return {
    sign(request, from, to, now = Date.now()) {
      const time = String(now);
      return [VERSION, time, from, to, mac(time, from, to, request).toString('base64url')].join('.');
    },
    check(header, request, now = Date.now()) {
      if (typeof header !== 'string' || header.length > 256) return { ok: false, reason: 'malformed' };
      const match = HEADER_PATTERN.exec(header);
      if (!match) return { ok: false, reason: 'malformed' };
      const [, time = '', from = '', to = '', signature = ''] = match;
      if (Math.abs(now - Number(time)) > MAX_CLOCK_SKEW_MS) return { ok: false, reason: 'stale' };
      const expected = mac(time, from, to, request);
      const given = Buffer.from(signature, 'base64url');
      if (given.length !== expected.length || !timingSafeEqual(given, expected))
        return { ok: false, reason: 'bad-signature' };
      return { ok: true, from, to };
    },
  };
}
