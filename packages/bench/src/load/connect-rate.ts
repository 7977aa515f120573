import { authFactory, type AuthSpec } from './auth.js';
import { ClosedLoopWorkload } from './closed-loop.js';
import { RawSocketIoClient } from './raw-socketio-client.js';

/**
 * Handshakes back to back from `concurrency` loops: WebSocket upgrade, Engine.IO open, Socket.IO connect
 * with the auth object; each socket closes once connected. Counts completed handshakes and their latency.
 */
export const ConnectRateWorkload = {
  async start(params: { url: string; concurrency: number; auth: AuthSpec }): Promise<ClosedLoopWorkload> {
    const authFor = await authFactory(params.auth, 1000);
    return new ClosedLoopWorkload(params.concurrency, async (index) => {
      const client = await RawSocketIoClient.connect({ url: params.url, auth: authFor(index) });
      return async () => {
        client.close();
        await client.whenClosed();
      };
    });
  },
};
