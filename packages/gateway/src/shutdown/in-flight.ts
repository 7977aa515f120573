import { setTimeout as sleep } from 'node:timers/promises';
import type { GatewayServer } from '../types.js';

/*
 * Events being handled right now (those with an ack: the ack is the last thing a handler does,
 * after its broadcast was handed to the adapter). A draining node waits for them before its adapter
 * closes, so a `message:send` whose client was just told to go elsewhere is still stored *and*
 * broadcast — otherwise its retry on another node would find it stored and never broadcast it.
 */

export interface InFlight {
  readonly count: number;
  /** Resolves when nothing is in flight, or after `timeoutMs`. */
  settle(timeoutMs: number): Promise<void>;
}

const POLL_MS = 10;

export function trackInFlight(io: GatewayServer): InFlight {
  let count = 0;
  // One middleware shared by every socket: it needs no socket, and an idle socket should cost nothing.
  const track = (packet: unknown[], next: (err?: Error) => void): void => {
    const last = packet.length - 1;
    const ack = packet[last] as unknown;
    if (last > 0 && typeof ack === 'function') {
      count += 1;
      let done = false;
      packet[last] = (...args: unknown[]) => {
        if (!done) {
          done = true;
          count -= 1;
        }
        (ack as (...args: unknown[]) => void)(...args);
      };
    }
    next();
  };
  io.on('connection', (socket) => {
    socket.use(track);
  });
  return {
    get count() {
      return count;
    },
    async settle(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (count > 0 && Date.now() < deadline) await sleep(POLL_MS);
    },
  };
}
