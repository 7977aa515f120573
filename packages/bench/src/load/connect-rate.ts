import { authFactory, type AuthSpec } from './auth.js';
import { RawSocketIoClient } from './raw-socketio-client.js';
import { WindowMeter } from './window-meter.js';
import type { WindowResult, Workload } from './workload.js';

/**
 * Handshakes back to back from `concurrency` loops: WebSocket upgrade, Engine.IO open, Socket.IO connect
 * with the auth object; each socket closes once connected. Counts completed handshakes and their latency.
 */
export class ConnectRateWorkload implements Workload {
  private readonly meter = new WindowMeter();
  private completed = 0;
  private started = 0;
  private windowCompleted = 0;
  private windowStarted = 0;
  private stopped = false;
  private readonly loops: Promise<void>[] = [];

  static async start(params: { url: string; concurrency: number; auth: AuthSpec }): Promise<ConnectRateWorkload> {
    const authFor = await authFactory(params.auth, 1000);
    return new ConnectRateWorkload(params.url, params.concurrency, authFor);
  }

  private constructor(url: string, concurrency: number, authFor: (index: number) => Record<string, unknown>) {
    for (let loop = 0; loop < concurrency; loop++) {
      this.loops.push(
        (async () => {
          while (!this.stopped) {
            const index = this.started++;
            const begin = performance.now();
            try {
              const client = await RawSocketIoClient.connect({ url, auth: authFor(index) });
              this.meter.latency.recordMs(performance.now() - begin);
              this.completed += 1;
              client.close();
              await client.whenClosed();
            } catch (error) {
              this.meter.fail(error instanceof Error ? error.message : String(error));
              // A refused handshake ends this loop: retrying at full speed would only measure failures.
              return;
            }
          }
        })(),
      );
    }
  }

  beginWindow(): void {
    this.meter.open();
    this.windowCompleted = this.completed;
    this.windowStarted = this.started;
  }

  endWindow(): WindowResult {
    return this.meter.close({
      operations: this.completed - this.windowCompleted,
      sent: this.started - this.windowStarted,
      latency: this.meter.latency.summary(),
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.race([Promise.all(this.loops), new Promise((resolve) => setTimeout(resolve, 10_000))]);
  }
}
