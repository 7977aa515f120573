/**
 * The hand-off between a session restore's replay and live delivery.
 *
 * A restore replays what this node's live feed has dispatched up to a cut; what the feed dispatches after
 * the cut must reach the restored socket live. But socket.io only adds the socket to `nsp.sockets` (which
 * live delivery goes through) once the restore has returned, the handshake middlewares have run (often
 * asynchronously: a token check) and a tick has passed. Every recoverable packet delivered here between
 * the cut and that moment is kept here, per restored socket, and written to the socket the instant it
 * connects, before anything else can be sent to it. Without this, those packets were simply lost while
 * socket.io reported the session as recovered.
 */

interface Pending {
  /** The session's rooms (the socket's own id included) until socket.io attaches the socket. */
  rooms: ReadonlySet<string>;
  packets: unknown[][];
  overflowed: boolean;
  timer: NodeJS.Timeout;
}

export interface HandoffOptions {
  /** Most packets kept for one socket; beyond that the restore is undone when the socket connects. */
  maxPackets: number;
  /** A socket that neither connects nor is cleaned up within this many ms is forgotten. */
  expireAfterMs: number;
}

export class RestoreHandoff {
  private readonly pending = new Map<string, Pending>();

  constructor(private readonly options: HandoffOptions) {}

  get size(): number {
    return this.pending.size;
  }

  /** Starts keeping packets for `sid`. Must be called synchronously at the replay's cut. */
  open(sid: string, rooms: Iterable<string>): void {
    this.drop(sid);
    const timer = setTimeout(() => this.drop(sid), this.options.expireAfterMs);
    timer.unref();
    this.pending.set(sid, { rooms: new Set(rooms), packets: [], overflowed: false, timer });
  }

  /**
   * A recoverable packet delivered on this node right now, to `rooms` minus `except` (socket.io's rules:
   * no rooms = everyone). `roomsOf(sid)` gives the socket's current rooms once socket.io knows them.
   * `servedPrivately`: sockets the origin node delivered it to as private packets (in their sessions).
   */
  capture(
    data: readonly unknown[],
    rooms: Iterable<string>,
    except: Iterable<string>,
    roomsOf: (sid: string) => ReadonlySet<string> | undefined,
    servedPrivately: readonly string[] = [],
  ): void {
    if (this.pending.size === 0) return;
    const targets = [...rooms];
    const excluded = [...except];
    for (const [sid, entry] of this.pending) {
      if (servedPrivately.includes(sid)) continue;
      const member = roomsOf(sid) ?? entry.rooms;
      const included = targets.length === 0 || targets.some((room) => member.has(room));
      if (!included || excluded.some((room) => member.has(room))) continue;
      if (entry.packets.length >= this.options.maxPackets) {
        entry.overflowed = true;
        continue;
      }
      entry.packets.push([...data]);
    }
  }

  /** The socket connected: its packets, in delivery order, or `overflowed` if some could not be kept. */
  take(sid: string): { packets: unknown[][]; overflowed: boolean } | undefined {
    const entry = this.pending.get(sid);
    if (!entry) return undefined;
    this.drop(sid);
    return { packets: entry.packets, overflowed: entry.overflowed };
  }

  drop(sid: string): void {
    const entry = this.pending.get(sid);
    if (!entry) return;
    clearTimeout(entry.timer);
    this.pending.delete(sid);
  }

  clear(): void {
    for (const sid of [...this.pending.keys()]) this.drop(sid);
  }
}
