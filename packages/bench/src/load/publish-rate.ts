import { request } from 'node:http';
import { WindowMeter } from './window-meter.js';
import type { WindowResult, Workload } from './workload.js';

export interface PublishRateParams {
  url: string;
  concurrency: number;
  apiKey: string;
  room: string;
}

/**
 * HTTP publishes back to back from `concurrency` loops (`POST /v1/rooms/:room/messages` with an API
 * key, kept-alive connections). Counts 201s and their latency; any other answer is an error.
 */
export class PublishRateWorkload implements Workload {
  private readonly meter = new WindowMeter();
  private completed = 0;
  private started = 0;
  private windowCompleted = 0;
  private windowStarted = 0;
  private stopped = false;
  private readonly loops: Promise<void>[] = [];

  static start(params: PublishRateParams): PublishRateWorkload {
    return new PublishRateWorkload(params);
  }

  private constructor({ url, concurrency, apiKey, room }: PublishRateParams) {
    const { hostname, port } = new URL(url);
    const body = JSON.stringify({ text: 'bench publish' });
    const publishOnce = (): Promise<number> =>
      new Promise((resolve, reject) => {
        const req = request(
          {
            hostname,
            port,
            method: 'POST',
            path: `/v1/rooms/${room}/messages`,
            headers: {
              'content-type': 'application/json',
              'content-length': Buffer.byteLength(body),
              'x-api-key': apiKey,
            },
          },
          (res) => {
            res.resume();
            res.once('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.once('error', reject);
        req.end(body);
      });
    for (let loop = 0; loop < concurrency; loop++) {
      this.loops.push(
        (async () => {
          while (!this.stopped) {
            this.started += 1;
            const begin = performance.now();
            try {
              const status = await publishOnce();
              if (status !== 201) throw new Error(`publish answered ${status}`);
              this.meter.latency.recordMs(performance.now() - begin);
              this.completed += 1;
            } catch (error) {
              this.meter.fail(error instanceof Error ? error.message : String(error));
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
