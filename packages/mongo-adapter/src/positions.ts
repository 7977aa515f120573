/**
 * Connection-state-recovery offsets: `<token>~<node>~<k>`, plus `~u` when not restorable.
 *
 * An offset names a place in ONE node's delivery order, which interleaves two kinds of deliveries:
 * - events read from the change stream (other nodes' messages, emitters'), in stream order: `token` is the
 *   resume token `_data` of the latest one delivered (tokens compare as strings in stream order);
 * - the node's own broadcasts, delivered to its sockets at once, never waiting for MongoDB: each one's
 *   place is its document's sequence number (channel '') and `k` is the latest such number delivered.
 *   Each own document records `at`, the token of the latest stream event delivered before it.
 *
 * So a client with offset (T, N, k) has every event of other origins up to T and every own broadcast of
 * node N numbered up to k; nothing else. Nodes interleave different senders differently; each sender's
 * order is the same everywhere.
 *
 * While the node delivers stream events out of stream order (it holds a sender's message for a missing
 * predecessor), what it delivered is not everything up to a token: offsets then end in `~u`, and a restore
 * from one is refused rather than risked.
 */
export interface ParsedOffset {
  token: string;
  node: string;
  k: number;
  /** False for `~u` offsets (minted while delivery was out of stream order): not restorable. */
  clean: boolean;
}

const OFFSET_PATTERN = /^([0-9A-Za-z+/=_-]{1,1024})~([^~\s]{1,128})~(\d{1,16})(~u)?$/;

export function parseOffset(offset: unknown): ParsedOffset | undefined {
  if (typeof offset !== 'string') return undefined;
  const match = OFFSET_PATTERN.exec(offset);
  if (!match) return undefined;
  const k = Number(match[3]);
  if (!Number.isSafeInteger(k)) return undefined;
  return { token: match[1]!, node: match[2]!, k, clean: match[4] === undefined };
}

export function formatOffset(token: string, node: string, k: number, clean: boolean): string {
  return `${token}~${node}~${k}${clean ? '' : '~u'}`;
}

/** This node's place in its own delivery order, for the offsets of what it delivers. */
export class Positions {
  /** Token of the latest stream event delivered here (the greatest: tokens compare as strings in stream order). */
  private latest: string | undefined;
  /** Sequence number of the latest own broadcast given a place (its `k`). */
  private own = 0;

  constructor(private readonly node: string) {}

  /** The token own broadcasts placed now record as `at` (`''`: nothing read from the stream yet). */
  get token(): string | undefined {
    return this.latest;
  }

  /** Sequence number of the latest own broadcast placed. */
  get ownSeq(): number {
    return this.own;
  }

  /** A change event is being delivered. */
  advance(token: string): void {
    if (this.latest === undefined || token > this.latest) this.latest = token;
  }

  /** The offset of a stream event delivered now. */
  offset(clean: boolean): string | undefined {
    if (this.latest === undefined) return undefined;
    return formatOffset(this.latest, this.node, this.own, clean);
  }

  /**
   * Places an own broadcast, numbered `seq`, after everything placed so far; returns its offset (none before
   * the node has read anything from the stream: such a packet cannot name a place a restore could start at).
   */
  place(seq: number, clean: boolean): string | undefined {
    if (seq > this.own) this.own = seq;
    if (this.latest === undefined) return undefined;
    return formatOffset(this.latest, this.node, seq, clean);
  }

  /** The offset of a packet replayed by a restore here. */
  at(token: string, k: number, clean: boolean): string {
    return formatOffset(token, this.node, k, clean);
  }
}
