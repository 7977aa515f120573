import { io, type Socket } from 'socket.io-client';
import { FixedRateSchedule } from '../harness/fixed-rate.js';
import { authFactory, type AuthSpec } from './auth.js';
import { forEachLimited } from './concurrency.js';
import { waitForDrain } from './drain.js';
import { markedText } from './sequence-marker.js';
import { WindowMeter } from './window-meter.js';
import type { WindowResult, Workload } from './workload.js';

export interface AckClientsOptions {
  url: string;
  clients: number;
  transport: 'websocket' | 'polling';
  auth: AuthSpec;
}

/** Real `socket.io-client` sockets on one transport, each in a room of its own. */
export async function connectAckClients(options: AckClientsOptions): Promise<Socket[]> {
  const authFor = await authFactory(options.auth, options.clients);
  const sockets: Socket[] = new Array(options.clients);
  try {
    await forEachLimited(options.clients, 20, async (index) => {
      const socket = io(options.url, {
        transports: [options.transport],
        auth: authFor(index),
        forceNew: true,
        reconnection: false,
        timeout: 20_000,
      });
      sockets[index] = socket;
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', () => resolve());
        socket.once('connect_error', (error) => reject(new Error(`connect_error: ${error.message}`)));
      });
      const joined = (await socket.timeout(20_000).emitWithAck('room:join', { room: `ack-${index}` })) as {
        ok: boolean;
        error?: { code: string };
      };
      if (!joined.ok) throw new Error(`room:join refused: ${joined.error?.code}`);
    });
  } catch (error) {
    for (const socket of sockets) socket?.disconnect();
    throw error;
  }
  return sockets;
}

/**
 * `message:send` at a fixed total rate spread round-robin over the sockets; latency runs from the
 * intended send time to the ack, so a stall is measured, not hidden.
 */
export class AckLatencyWorkload implements Workload {
  private readonly meter = new WindowMeter();
  private readonly schedule: FixedRateSchedule;
  private sent = 0;
  private acked = 0;
  private windowAcked = 0;
  private windowSent = 0;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly sockets: Socket[],
    private readonly params: { rate: number; bytes: number },
  ) {
    this.schedule = new FixedRateSchedule(performance.now(), params.rate);
    this.tick();
  }

  private send(index: number): void {
    const intendedAt = this.schedule.intendedTime(index);
    const socket = this.sockets[index % this.sockets.length]!;
    this.sent += 1;
    this.windowSent += 1;
    const payload = {
      room: `ack-${index % this.sockets.length}`,
      text: markedText(index, this.params.bytes),
      clientMessageId: `a${index}`,
    };
    socket
      .timeout(30_000)
      .emitWithAck('message:send', payload)
      .then(
        (response: { ok: boolean; error?: { code: string; message: string } }) => {
          this.acked += 1;
          if (response.ok) this.meter.latency.recordMs(performance.now() - intendedAt);
          else this.meter.fail(`message:send refused: ${response.error?.code} ${response.error?.message}`);
        },
        (error: Error) => {
          this.acked += 1;
          this.meter.fail(`message:send: ${error.message}`);
        },
      );
  }

  private tick = (): void => {
    if (this.stopped) return;
    const due = this.schedule.dueCount(performance.now());
    while (this.sent < due) this.send(this.sent);
    this.timer = setTimeout(this.tick, this.schedule.delayUntil(this.sent, performance.now()));
  };

  beginWindow(): void {
    this.meter.open();
    this.windowAcked = this.acked;
    this.windowSent = 0;
  }

  endWindow(): WindowResult {
    return this.meter.close({
      operations: this.acked - this.windowAcked,
      sent: this.windowSent,
      latency: this.meter.latency.summary(),
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await waitForDrain(() => this.acked >= this.sent);
  }
}
