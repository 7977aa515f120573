import { request } from 'node:http';
import { ClosedLoopWorkload } from './closed-loop.js';

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
export const PublishRateWorkload = {
  start({ url, concurrency, apiKey, room }: PublishRateParams): ClosedLoopWorkload {
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
    return new ClosedLoopWorkload(concurrency, async () => {
      const status = await publishOnce();
      if (status !== 201) throw new Error(`publish answered ${status}`);
    });
  },
};
