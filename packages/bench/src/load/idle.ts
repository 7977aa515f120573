import { io, type Socket } from 'socket.io-client';
import { authFactory, type AuthSpec } from './auth.js';
import { forEachLimited } from './concurrency.js';
import { RawSocketIoClient } from './raw-socketio-client.js';
import { subscribeSse } from './sse-subscriber.js';

export interface IdleParams {
  url: string;
  /** `sse`: subscribers of `room`'s Server-Sent Events (needs `room`). */
  transport: 'websocket' | 'polling' | 'sse';
  count: number;
  /** When set, every client joins (or, over SSE, subscribes to) this room. */
  room?: string;
  auth: AuthSpec;
  concurrency: number;
}

/** Idle connected clients held open (answering pings) until closed: the server's memory per client. */
export class IdleClients {
  private readonly closers: (() => void)[] = [];

  static async open(params: IdleParams): Promise<IdleClients> {
    const idle = new IdleClients();
    const authFor = await authFactory(params.auth, params.count);
    try {
      await forEachLimited(params.count, params.concurrency, async (index) => {
        if (params.transport === 'sse') {
          if (!params.room) throw new Error('idle SSE subscribers need a room');
          const auth = authFor(index);
          const subscription = await subscribeSse({
            url: params.url,
            room: params.room,
            ...(typeof auth.token === 'string' ? { token: auth.token } : {}),
          });
          idle.closers.push(() => subscription.close());
          return;
        }
        if (params.transport === 'websocket') {
          // The wire protocol on `ws`: the server holds exactly what it holds for socket.io-client.
          const client = await RawSocketIoClient.connect({ url: params.url, auth: authFor(index) });
          idle.closers.push(() => client.close());
          if (params.room) {
            const joined = await client.emitWithAck<{ ok: boolean; error?: { code: string } }>('room:join', {
              room: params.room,
            });
            if (!joined.ok) throw new Error(`room:join refused: ${joined.error?.code}`);
          }
          return;
        }
        const socket: Socket = io(params.url, {
          transports: ['polling'],
          auth: authFor(index),
          forceNew: true,
          reconnection: false,
          timeout: 30_000,
        });
        idle.closers.push(() => socket.disconnect());
        await new Promise<void>((resolve, reject) => {
          socket.once('connect', () => resolve());
          socket.once('connect_error', (error) => reject(new Error(`connect_error: ${error.message}`)));
        });
      });
    } catch (error) {
      idle.close();
      throw error;
    }
    return idle;
  }

  get size(): number {
    return this.closers.length;
  }

  close(): void {
    for (const close of this.closers.splice(0)) close();
  }
}
