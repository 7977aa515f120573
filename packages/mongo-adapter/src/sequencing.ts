/**
 * Sequence numbers, both ways.
 *
 * Every origin (node or emitter) numbers its documents per channel: the channel is the document's `to`
 * ('' for every node, or one node's uid), so each receiver sees a gap-free run 1, 2, 3... per origin, even
 * though MongoDB drops the responses addressed to other nodes before they reach it.
 *
 * Several insertMany batches may be in flight at once, so MongoDB may apply a later batch first, and a
 * failed batch is retried after later ones. Each document therefore also carries `low`: the lowest number
 * of its channel that the origin had not seen acknowledged when it sent it. Everything below `low` is
 * already in the stream (it was acknowledged, so committed, before this document was even sent) or was
 * given up; only `low .. seq - 1` may still come later. Receivers hold a document until those arrived.
 */

/** The outgoing side: numbers and `low` marks for one origin. */
export class Numbering {
  private readonly next = new Map<string, number>();
  /** Per channel, the numbers not yet acknowledged or given up, in increasing order (Set keeps insertion order). */
  private readonly unsettled = new Map<string, Set<number>>();

  /** The next number of `channel`; it stays unsettled until `settle`. */
  assign(channel: string): number {
    const seq = this.next.get(channel) ?? 1;
    this.next.set(channel, seq + 1);
    let pending = this.unsettled.get(channel);
    if (!pending) this.unsettled.set(channel, (pending = new Set()));
    pending.add(seq);
    return seq;
  }

  /** The document is acknowledged, or given up for good (the origin will never write it again). */
  settle(channel: string, seq: number): void {
    const pending = this.unsettled.get(channel);
    if (!pending) return;
    pending.delete(seq);
    if (pending.size === 0) this.unsettled.delete(channel);
  }

  /** The `low` mark of a document of `channel` sent now. */
  low(channel: string): number {
    const pending = this.unsettled.get(channel);
    if (pending && pending.size > 0) return pending.values().next().value as number;
    return this.next.get(channel) ?? 1;
  }
}

/** What the receiving side needs to know about a document. */
export interface Sequenced {
  origin: string;
  /** The channel: '' or the receiving node's uid. */
  to: string;
  seq: number;
  /** Undefined for format-1 documents (one sequence per origin across channels: duplicates are dropped, never held). */
  low: number | undefined;
}

interface Channel {
  /** The next number to deliver. */
  next: number;
  /**
   * The first number heard from this origin and the time until which the ones before it (from its `low`)
   * are waited for: they may have been committed before this node's stream started, and then never come.
   */
  firstSeen: number;
  contactUntil: number;
  held: Map<number, unknown>;
  /** When the oldest hole of this channel was first seen (meaningful while something is held). */
  heldSince: number;
  lastSeenAt: number;
}

export interface SequencerHooks<E> {
  /** In order. `late`: it was held (so it comes after events that follow it in the stream). */
  deliver(event: E, late: boolean): void;
  /** The event waits for a predecessor. */
  held?(event: E): void;
  duplicate(item: Sequenced): void;
  /** A hole was given up after `holdMs` (its origin died mid-write, or lags beyond any retry). */
  gaveUp(origin: string, channel: string, from: number, to: number): void;
  trace?(what: 'held', item: Sequenced, waitingFor: number): void;
}

/**
 * The receiving side: per origin and channel, delivers in sequence order exactly once, holding a document
 * whose predecessors may still come (see `low`), and giving a hole up after `holdMs`.
 */
export class Sequencer<E> {
  private readonly channels = new Map<string, Channel>();
  private holding = 0;

  constructor(
    private readonly hooks: SequencerHooks<E>,
    private readonly holdMs: number,
    private readonly maxHeldPerChannel: number,
    /** How long, on first contact with an origin, the documents its first one says may still come are waited for. */
    private readonly firstContactMs: number = holdMs,
  ) {}

  /** Documents held right now (a non-zero value means delivery is not in stream order). */
  get held(): number {
    return this.holding;
  }

  /** Whether a document of this channel with this number was delivered (or passed over) already. */
  delivered(origin: string, to: string, seq: number): boolean {
    const channel = this.channels.get(key(origin, to));
    return channel !== undefined && seq < channel.next;
  }

  accept(item: Sequenced, event: E, now: number): void {
    const id = key(item.origin, item.to);
    let channel = this.channels.get(id);
    if (!channel) {
      // First contact (a node starting, or after lost history). What was acknowledged before this document
      // was sent is not ours to wait for; its other predecessors (`low` on) may still come, or may have
      // been committed before this node's stream started: they are waited for briefly.
      const from = item.low !== undefined && item.low < item.seq ? item.low : item.seq;
      channel = {
        next: from,
        firstSeen: item.seq,
        contactUntil: now + this.firstContactMs,
        held: new Map(),
        heldSince: 0,
        lastSeenAt: now,
      };
      this.channels.set(id, channel);
    }
    channel.lastSeenAt = now;
    if (item.seq < channel.next || channel.held.has(item.seq)) {
      this.hooks.duplicate(item);
      return;
    }
    if (item.low === undefined) {
      channel.next = item.seq + 1;
      this.hooks.deliver(event, false);
      return;
    }
    if (item.low > channel.next) this.passOver(channel, item.low);
    if (item.seq === channel.next) {
      channel.next++;
      this.hooks.deliver(event, false);
      this.release(channel);
      return;
    }
    channel.held.set(item.seq, event);
    this.holding++;
    this.hooks.held?.(event);
    if (channel.held.size === 1) channel.heldSince = now;
    this.hooks.trace?.('held', item, channel.next);
    if (channel.held.size > this.maxHeldPerChannel) this.giveUp(item.origin, item.to, channel);
  }

  /** Gives up holes older than `holdMs`; returns whether anything is still held. */
  sweep(now: number): boolean {
    for (const [id, channel] of this.channels) {
      if (channel.held.size === 0) continue;
      if (channel.next < channel.firstSeen && now >= channel.contactUntil) {
        // Predecessors of the first document heard: committed before this node listened. Not a gap.
        this.passOver(channel, channel.firstSeen);
        this.release(channel);
        continue;
      }
      if (now - channel.heldSince >= this.holdMs) {
        const [origin, to] = split(id);
        this.giveUp(origin, to, channel);
      }
    }
    return this.holding > 0;
  }

  /** Forgets everything (history was lost: the next document of every origin is a first contact). */
  reset(): void {
    for (const channel of this.channels.values()) this.holding -= channel.held.size;
    this.channels.clear();
  }

  /** Forgets origins not heard from since `horizon` and holding nothing; returns their channels (origin, to). */
  forgetIdle(horizon: number): Array<[string, string]> {
    const forgotten: Array<[string, string]> = [];
    for (const [id, channel] of this.channels) {
      if (channel.lastSeenAt < horizon && channel.held.size === 0) {
        this.channels.delete(id);
        forgotten.push(split(id));
      }
    }
    return forgotten;
  }

  /** Everything below `low` is in the stream already or given up: deliver what is held below it. */
  private passOver(channel: Channel, low: number): void {
    while (channel.next < low) {
      const event = channel.held.get(channel.next);
      if (event !== undefined) {
        channel.held.delete(channel.next);
        this.holding--;
        this.hooks.deliver(event as E, true);
      }
      channel.next++;
    }
    if (channel.held.size === 0) channel.heldSince = 0;
  }

  private release(channel: Channel): void {
    if (channel.held.size === 0) return;
    for (;;) {
      const event = channel.held.get(channel.next);
      if (event === undefined) break;
      channel.held.delete(channel.next);
      this.holding--;
      channel.next++;
      this.hooks.deliver(event as E, true);
    }
    channel.heldSince = channel.held.size === 0 ? 0 : Date.now();
  }

  private giveUp(origin: string, to: string, channel: Channel): void {
    const from = channel.next;
    const highest = Math.max(...channel.held.keys());
    this.hooks.gaveUp(origin, to, from, highest);
    for (let seq = from; seq <= highest; seq++) {
      const event = channel.held.get(seq);
      if (event === undefined) continue;
      channel.held.delete(seq);
      this.holding--;
      this.hooks.deliver(event as E, true);
    }
    channel.next = highest + 1;
    channel.heldSince = 0;
  }
}

function key(origin: string, to: string): string {
  return `${origin}\u0000${to}`;
}

function split(id: string): [string, string] {
  const at = id.indexOf('\u0000');
  return [id.slice(0, at), id.slice(at + 1)];
}
