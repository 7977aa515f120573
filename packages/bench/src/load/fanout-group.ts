import WebSocket from 'ws';
import type { AuthSpec } from './auth.js';
import { authFactory } from './auth.js';
import { forEachLimited } from './concurrency.js';
import { RawSocketIoClient } from './raw-socketio-client.js';
import { createMarkerSplitter, markedText } from './sequence-marker.js';
import { subscribeSse, type SseSubscription } from './sse-subscriber.js';

/** One room's members, as the fan-out workloads see them: frames in, one sender out. */
export interface FanoutGroup {
  readonly size: number;
  /** Sets the frame handler of member `index`. The last member is the tracker (served last by the server). */
  onFrame(index: number, handler: (frame: Buffer) => void): void;
  /** Member 0 sends message `sequence` with a text of `bytes` bytes. */
  send(sequence: number, bytes: number): void;
  /** Which server (index into the urls) member `index` is connected to; the sender is on server 0. */
  nodeOf(index: number): number;
  /** Errors the server answered the sender with (refused sends). */
  onSendError(handler: (message: string) => void): void;
  /** Member `index` stops reading its connection (Socket.IO and raw `ws` members). */
  pause(index: number): void;
  /** With `phased` connects (members connected, not joined yet): joins everyone, resolves with the time it took. */
  joinAll?(): Promise<number>;
  close(): Promise<void>;
}

/** Member 0's side of a Socket.IO group: `message:send` to the room, refusals passed to `onSendError`. */
function messageSender(sender: RawSocketIoClient, room: string): Pick<FanoutGroup, 'send' | 'onSendError'> {
  let sendErrorHandler: (message: string) => void = () => {};
  sender.onUnclaimedAck = (frame) => {
    // Acks of `message:send` are not awaited one by one; only a refusal matters.
    if (frame.includes('"ok":false')) sendErrorHandler(frame.subarray(0, 300).toString());
  };
  return {
    send: (sequence, bytes) => {
      const payload = { room, text: markedText(sequence, bytes), clientMessageId: `c${sequence}` };
      sender.sendEncodedUnclaimed(JSON.stringify(['message:send', payload]));
    },
    onSendError: (handler) => {
      sendErrorHandler = handler;
    },
  };
}

export interface SocketIoGroupOptions {
  /** One url per node; member `i` connects to `urls[i % urls.length]`. */
  urls: string[];
  members: number;
  room: string;
  auth: AuthSpec;
  concurrency: number;
  /** Only connect: the members join the room later, all at once, with `joinAll()`. */
  phased?: boolean;
}

/** Members speak Socket.IO (bare server or gateway): connect, `room:join`, `message:send` from member 0. */
export async function connectSocketIoGroup(options: SocketIoGroupOptions): Promise<FanoutGroup> {
  const authFor = await authFactory(options.auth, options.members);
  const clients: RawSocketIoClient[] = new Array(options.members);
  const paused = new Set<number>();
  let joinAll: (() => Promise<number>) | undefined;
  try {
    const connect = async (index: number) => {
      clients[index] = await RawSocketIoClient.connect({
        url: options.urls[index % options.urls.length]!,
        auth: authFor(index),
      });
    };
    const joinRoom = async (index: number) => {
      const joined = await clients[index]!.emitWithAck<{ ok: boolean; error?: { code: string; message: string } }>(
        'room:join',
        { room: options.room },
      );
      if (!joined.ok) throw new Error(`room:join refused: ${joined.error?.code} ${joined.error?.message}`);
    };
    if (options.phased) {
      await forEachLimited(options.members, options.concurrency, connect);
      joinAll = async () => {
        const started = performance.now();
        await forEachLimited(options.members - 1, options.concurrency, joinRoom);
        await joinRoom(options.members - 1);
        return performance.now() - started;
      };
    } else {
      const join = async (index: number) => {
        await connect(index);
        await joinRoom(index);
      };
      await forEachLimited(options.members - 1, options.concurrency, join);
      // The tracker joins last so the server serves it last.
      await join(options.members - 1);
    }
  } catch (error) {
    for (const client of clients) client?.terminate();
    throw error;
  }
  const sender = clients[0]!;
  return {
    ...messageSender(sender, options.room),
    size: clients.length,
    onFrame: (index, handler) => {
      clients[index]!.onEvent = handler;
    },
    nodeOf: (index) => index % options.urls.length,
    pause: (index) => {
      paused.add(index);
      clients[index]!.pause();
    },
    ...(joinAll === undefined ? {} : { joinAll }),
    close: async () => {
      // A member that stopped reading would never read the close handshake: cut it.
      clients.forEach((client, index) => (paused.has(index) ? client.terminate() : client.close()));
      await Promise.all(clients.map((client) => client.whenClosed()));
    },
  };
}

/** Members are raw `ws` connections to the ceiling server's `/fanout`: the payload alone, no protocol. */
export async function connectWsGroup(options: {
  url: string;
  members: number;
  concurrency: number;
}): Promise<FanoutGroup> {
  const sockets: WebSocket[] = new Array(options.members);
  const paused = new Set<number>();
  const handlers: ((frame: Buffer) => void)[] = new Array(options.members).fill(() => {});
  const open = async (index: number) => {
    const ws = new WebSocket(`${options.url.replace(/^http/, 'ws')}/fanout`, {
      perMessageDeflate: false,
      skipUTF8Validation: true,
    });
    sockets[index] = ws;
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    ws.on('message', (data: Buffer) => handlers[index]!(data));
  };
  await forEachLimited(options.members - 1, options.concurrency, open);
  // The tracker connects last so the server serves it last.
  await open(options.members - 1);
  return {
    size: sockets.length,
    onFrame: (index, handler) => {
      handlers[index] = handler;
    },
    nodeOf: () => 0,
    send: (sequence, bytes) => sockets[0]!.send(markedText(sequence, bytes)),
    onSendError: () => {},
    pause: (index) => {
      paused.add(index);
      sockets[index]!.pause();
    },
    close: async () => {
      await Promise.all(
        sockets.map(
          (ws, index) =>
            new Promise<void>((resolve) => {
              if (ws.readyState === WebSocket.CLOSED) return resolve();
              ws.once('close', () => resolve());
              if (paused.has(index)) ws.terminate();
              else ws.close();
            }),
        ),
      );
    },
  };
}

/** Member 0 sends over Socket.IO (it must join the room to send); members 1.. listen over SSE. */
export async function connectSseGroup(
  options: Omit<SocketIoGroupOptions, 'urls'> & { url: string },
): Promise<FanoutGroup> {
  const authFor = await authFactory(options.auth, options.members);
  const sender = await RawSocketIoClient.connect({ url: options.url, auth: authFor(0) });
  const subscriptions: SseSubscription[] = new Array(options.members - 1);
  const handlers: ((frame: Buffer) => void)[] = new Array(options.members).fill(() => {});
  try {
    const joined = await sender.emitWithAck<{ ok: boolean; error?: { code: string } }>('room:join', {
      room: options.room,
    });
    if (!joined.ok) throw new Error(`room:join refused: ${joined.error?.code}`);
    sender.onEvent = (frame) => handlers[0]!(frame);
    const subscribe = async (index: number) => {
      const auth = authFor(index);
      subscriptions[index - 1] = await subscribeSse({
        url: options.url,
        room: options.room,
        ...(typeof auth.token === 'string' ? { token: auth.token } : {}),
        // One chunk can hold several events, or part of one: hand each complete marker to the handler.
        onChunk: createMarkerSplitter((frame) => handlers[index]!(frame)),
      });
    };
    await forEachLimited(options.members - 2, options.concurrency, (index) => subscribe(index + 1));
    // The tracker subscribes last.
    await subscribe(options.members - 1);
  } catch (error) {
    sender.terminate();
    for (const subscription of subscriptions) subscription?.close();
    throw error;
  }
  return {
    ...messageSender(sender, options.room),
    size: options.members,
    onFrame: (index, handler) => {
      handlers[index] = handler;
    },
    nodeOf: () => 0,
    pause: () => {
      throw new Error('SSE members cannot be paused here');
    },
    close: async () => {
      for (const subscription of subscriptions) subscription.close();
      sender.close();
      await sender.whenClosed();
    },
  };
}
