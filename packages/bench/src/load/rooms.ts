import { forEachLimited } from './concurrency.js';
import { waitForDrain } from './drain.js';
import { RawSocketIoClient } from './raw-socketio-client.js';
import { markedText, sequenceIn } from './sequence-marker.js';
import { WindowMeter } from './window-meter.js';
import type { WindowResult, Workload } from './workload.js';

export interface RoomsConnectParams {
  /** Two nodes: the sender on the first, every room's members on the second. */
  urls: [string, string];
  rooms: number;
  concurrency: number;
}

export interface RoomsParams {
  /** Messages kept in flight (closed loop: the broker and adapter decide the pace). */
  window: number;
  bytes: number;
}

/**
 * Many small rooms: room `i` has two members, both on node 2, and one sender on node 1 (in no room, not
 * asking for acks) sends to the rooms in turn. Every broadcast crosses the broker and reaches two
 * sockets, so socket.io's own work is small and the cluster adapter's per-message cost (the write, the
 * change event, routing it) decides the rate.
 */
export class RoomsGroup {
  private constructor(
    readonly sender: RawSocketIoClient,
    /** first[i] / second[i]: room i's members (node 2). A message completes when `first` has it. */
    readonly first: RawSocketIoClient[],
    readonly second: RawSocketIoClient[],
  ) {}

  static async connect(params: RoomsConnectParams): Promise<RoomsGroup> {
    const clients: RawSocketIoClient[] = [];
    try {
      const sender = await RawSocketIoClient.connect({ url: params.urls[0], auth: { name: 'bench-sender' } });
      clients.push(sender);
      const first: RawSocketIoClient[] = new Array(params.rooms);
      const second: RawSocketIoClient[] = new Array(params.rooms);
      const join = async (index: number) => {
        const room = Math.floor(index / 2);
        const client = await RawSocketIoClient.connect({ url: params.urls[1], auth: { name: `bench-${index}` } });
        clients.push(client);
        (index % 2 === 0 ? first : second)[room] = client;
        await client.emitWithAck('room:join', { room: roomName(room) });
      };
      await forEachLimited(params.rooms * 2, params.concurrency, join);
      return new RoomsGroup(sender, first, second);
    } catch (error) {
      for (const client of clients) client.terminate();
      throw error;
    }
  }

  async close(): Promise<void> {
    const all = [this.sender, ...this.first, ...this.second];
    for (const client of all) client.close();
    await Promise.all(all.map((client) => client.whenClosed()));
  }
}

function roomName(index: number): string {
  return `bench-small-${index}`;
}

let nextSequence = 0;

/** Closed loop over the rooms: a broadcast leaves flight when its room's first member has it. */
export class RoomsWorkload implements Workload {
  private readonly meter = new WindowMeter();
  private readonly firstSequence = nextSequence;
  private sent = 0;
  private completed = 0;
  private windowCompleted = 0;
  private windowSent = 0;
  private stopped = false;
  private lastProgress = performance.now();

  constructor(
    private readonly group: RoomsGroup,
    private readonly params: RoomsParams,
  ) {
    const complete = (frame: Buffer) => {
      const index = sequenceIn(frame) - this.firstSequence;
      if (index < 0 || index >= this.sent) return;
      this.completed += 1;
      this.lastProgress = performance.now();
      if (!this.stopped) this.sendNext();
    };
    for (const client of group.first) client.onEvent = complete;
    for (let i = 0; i < params.window; i++) this.sendNext();
  }

  private sendNext(): void {
    const sequence = this.firstSequence + this.sent;
    const room = this.sent % this.group.first.length;
    this.sent += 1;
    this.windowSent += 1;
    nextSequence += 1;
    const payload = {
      room: roomName(room),
      text: markedText(sequence, this.params.bytes),
      clientMessageId: `r${sequence}`,
    };
    this.group.sender.sendEncodedWithoutAck(JSON.stringify(['message:send', payload]));
  }

  beginWindow(): void {
    this.meter.open();
    this.windowCompleted = this.completed;
    this.windowSent = 0;
  }

  endWindow(): WindowResult {
    const now = performance.now();
    if (now - this.lastProgress > 15_000) this.meter.fail('stalled: no remote delivery for 15 s');
    return this.meter.close(
      { operations: this.completed - this.windowCompleted, sent: this.windowSent, latency: undefined },
      now,
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await waitForDrain(() => this.completed >= this.sent);
  }
}
