import { io, type Socket } from 'socket.io-client';
import { CpuMeter } from '../harness/cpu-meter.js';
import { FixedRateSchedule } from '../harness/fixed-rate.js';
import { LatencyRecorder } from '../harness/latency.js';
import { authFactory, type AuthSpec } from './auth.js';
import { forEachLimited } from './concurrency.js';
import { markedText } from './sequence-marker.js';
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
  private readonly recorder = new LatencyRecorder();
  private readonly cpu = new CpuMeter();
  private readonly schedule: FixedRateSchedule;
  private sent = 0;
  private acked = 0;
  private windowAcked = 0;
  private windowSent = 0;
  private windowStart = 0;
  private errors = 0;
  private firstError: string | undefined;
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
          if (response.ok) this.recorder.recordMs(performance.now() - intendedAt);
          else this.fail(`message:send refused: ${response.error?.code} ${response.error?.message}`);
        },
        (error: Error) => {
          this.acked += 1;
          this.fail(`message:send: ${error.message}`);
        },
      );
  }

  private fail(message: string): void {
    this.errors += 1;
    this.firstError ??= message;
  }

  private tick = (): void => {
    if (this.stopped) return;
    const due = this.schedule.dueCount(performance.now());
    while (this.sent < due) this.send(this.sent);
    this.timer = setTimeout(this.tick, this.schedule.delayUntil(this.sent, performance.now()));
  };

  beginWindow(): void {
    this.recorder.reset();
    this.cpu.start();
    this.windowAcked = this.acked;
    this.windowSent = 0;
    this.windowStart = performance.now();
  }

  endWindow(): WindowResult {
    return {
      durationMs: performance.now() - this.windowStart,
      operations: this.acked - this.windowAcked,
      sent: this.windowSent,
      latency: this.recorder.summary(),
      loadCpu: this.cpu.read().coreFraction,
      errors: this.errors,
      firstError: this.firstError,
    };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    const deadline = performance.now() + 10_000;
    while (this.acked < this.sent && performance.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
