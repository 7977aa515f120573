/**
 * Connection-state-recovery offsets: `<token>~<node>~<k>`, plus `~u` when not restorable.
 *
 * `token` is the resume token `_data` of the latest change event this node had delivered when the packet
 * went out: every node delivers broadcasts in change-stream order, so it names a prefix of one global
 * order. `node` and `k` place the node's private packets (never written to MongoDB) after it: `k` counts
 * them. While the node delivers out of stream order (a sequence hole being waited for, an echo overtaken),
 * what it has delivered is not a prefix of the stream: offsets then end in `~u` and a restore from them
 * is refused rather than risked.
 */
export interface ParsedOffset {
  token: string;
  node: string;
  k: number;
  /** False for `~u` offsets (minted while delivery was out of stream order): not restorable. */
  clean: boolean;
}

const OFFSET_PATTERN = /^([0-9A-Za-z+/=_-]{1,1024})~([^~\s]{1,128})~(\d{1,15})(~u)?$/;

export function parseOffset(offset: unknown): ParsedOffset | undefined {
  if (typeof offset !== 'string') return undefined;
  const match = OFFSET_PATTERN.exec(offset);
  if (!match) return undefined;
  return { token: match[1]!, node: match[2]!, k: Number(match[3]), clean: match[4] === undefined };
}

/** A private packet's place: after the event `base`, `k`-th private packet of the node. */
export interface PrivatePosition {
  offset: string;
  base: string;
  k: number;
}

/** This node's position in the stream, for the offsets of what it delivers. */
export class Positions {
  /** Token of the latest event delivered here (the greatest: tokens compare as strings in stream order). */
  private latest: string | undefined;
  private k = 0;

  constructor(private readonly node: string) {}

  get token(): string | undefined {
    return this.latest;
  }

  /** A change event is being delivered. */
  advance(token: string): void {
    if (this.latest === undefined || token > this.latest) this.latest = token;
  }

  /** The offset of a packet delivered now, from the stream. */
  offset(clean: boolean): string | undefined {
    if (this.latest === undefined) return undefined;
    return `${this.latest}~${this.node}~${this.k}${clean ? '' : '~u'}`;
  }

  /** The offset of a packet replayed from the stream, at `token`. */
  at(token: string, clean: boolean): string {
    return `${token}~${this.node}~${this.k}${clean ? '' : '~u'}`;
  }

  /** The position of a private packet delivered now: after everything delivered so far. */
  nextPrivate(clean: boolean): PrivatePosition | undefined {
    if (this.latest === undefined) return undefined;
    const k = ++this.k;
    return { offset: `${this.latest}~${this.node}~${k}${clean ? '' : '~u'}`, base: this.latest, k };
  }
}
