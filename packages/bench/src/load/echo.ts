import WebSocket from 'ws';
import { authFactory, type AuthSpec } from './auth.js';
import { forEachLimited } from './concurrency.js';
import { waitForDrain } from './drain.js';
import { RawSocketIoClient } from './raw-socketio-client.js';
import { markedText } from './sequence-marker.js';
import { WindowMeter } from './window-meter.js';
import type { WindowResult, Workload } from './workload.js';

/** A client that sends one request and calls back when its answer arrives: an echo or an ack. */
interface RoundTripClient {
  send(): void;
  onAnswer(handler: (refusal: string | undefined) => void): void;
  close(): void;
}

export interface EchoParams {
  url: string;
  /** `ws`: raw frames to the ceiling's `/echo`; `socketio`: `message:send` to a room of one, answered by its ack. */
  kind: 'ws' | 'socketio';
  clients: number;
  /** Requests each client keeps in flight. */
  window: number;
  bytes: number;
  auth: AuthSpec;
}

async function connectClients(params: EchoParams): Promise<RoundTripClient[]> {
  const clients: RoundTripClient[] = new Array(params.clients);
  const text = markedText(0, params.bytes);
  const authFor = await authFactory(params.auth, params.clients);
  await forEachLimited(params.clients, 20, async (index) => {
    if (params.kind === 'ws') {
      const ws = new WebSocket(`${params.url.replace(/^http/, 'ws')}/echo`, {
        perMessageDeflate: false,
        skipUTF8Validation: true,
      });
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      });
      let handler: (refusal: string | undefined) => void = () => {};
      ws.on('message', () => handler(undefined));
      clients[index] = { send: () => ws.send(text), onAnswer: (h) => (handler = h), close: () => ws.close() };
      return;
    }
    const client = await RawSocketIoClient.connect({ url: params.url, auth: authFor(index) });
    const room = `echo-${index}`;
    const joined = await client.emitWithAck<{ ok: boolean; error?: { code: string } }>('room:join', { room });
    if (!joined.ok) throw new Error(`room:join refused: ${joined.error?.code}`);
    const encoded = JSON.stringify(['message:send', { room, text, clientMessageId: 'echo' }]);
    let handler: (refusal: string | undefined) => void = () => {};
    client.onUnclaimedAck = (frame) =>
      handler(frame.includes('"ok":false') ? frame.subarray(0, 300).toString() : undefined);
    clients[index] = {
      send: () => client.sendEncodedUnclaimed(encoded),
      onAnswer: (h) => (handler = h),
      close: () => client.close(),
    };
  });
  return clients;
}

/** Closed-loop round trips at saturation: each client keeps `window` requests in flight. */
export class EchoWorkload implements Workload {
  private readonly meter = new WindowMeter();
  private completed = 0;
  private windowCompleted = 0;
  private inFlight = 0;
  private stopped = false;

  static async start(params: EchoParams): Promise<EchoWorkload> {
    return new EchoWorkload(await connectClients(params), params.window);
  }

  private constructor(
    private readonly clients: RoundTripClient[],
    window: number,
  ) {
    for (const client of clients) {
      // Answers come back in order on one connection, so a FIFO of send times gives each round trip.
      const sentAt: number[] = [];
      client.onAnswer((refusal) => {
        this.inFlight -= 1;
        this.completed += 1;
        const started = sentAt.shift();
        if (refusal) this.meter.fail(refusal);
        else if (started !== undefined) this.meter.latency.recordMs(performance.now() - started);
        if (!this.stopped) {
          sentAt.push(performance.now());
          this.inFlight += 1;
          client.send();
        }
      });
      for (let slot = 0; slot < window; slot++) {
        sentAt.push(performance.now());
        this.inFlight += 1;
        client.send();
      }
    }
  }

  beginWindow(): void {
    this.meter.open();
    this.windowCompleted = this.completed;
  }

  endWindow(): WindowResult {
    const operations = this.completed - this.windowCompleted;
    return this.meter.close({ operations, sent: operations, latency: this.meter.latency.summary() });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await waitForDrain(() => this.inFlight <= 0);
    for (const client of this.clients) client.close();
  }
}
