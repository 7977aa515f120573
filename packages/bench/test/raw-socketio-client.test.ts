import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RawSocketIoClient } from '../src/load/raw-socketio-client.js';
import { attachBareChat } from '../src/servers/bare-chat.js';

/** The load generator's wire-level client against a real socket.io server. */
describe('RawSocketIoClient', () => {
  let httpServer: HttpServer;
  let io: Server;
  let url: string;
  const clients: RawSocketIoClient[] = [];

  beforeEach(async () => {
    httpServer = createServer();
    io = new Server(httpServer);
    io.use((socket, next) => (socket.handshake.auth.name === 'refused' ? next(new Error('not you')) : next()));
    attachBareChat(io);
    await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`;
  });

  afterEach(async () => {
    for (const client of clients.splice(0)) client.terminate();
    await io.close();
  });

  async function connect(name: string): Promise<RawSocketIoClient> {
    const client = await RawSocketIoClient.connect({ url, auth: { name } });
    clients.push(client);
    return client;
  }

  it('connects with an auth object, joins a room and gets acks', async () => {
    const client = await connect('alice');
    expect(io.engine.clientsCount).toBe(1);
    const joined = await client.emitWithAck<{ ok: boolean; room: string }>('room:join', { room: 'r1' });
    expect(joined).toMatchObject({ ok: true, room: 'r1' });
    const sent = await client.emitWithAck<{ ok: boolean; message: { text: string; author: { name: string } } }>(
      'message:send',
      {
        room: 'r1',
        text: 'hello',
        clientMessageId: 'c1',
      },
    );
    expect(sent.ok).toBe(true);
    expect(sent.message).toMatchObject({ text: 'hello', author: { name: 'alice' } });
  });

  it('hands room events to onEvent as raw frames, and unawaited acks to onUnclaimedAck', async () => {
    const sender = await connect('sender');
    const receiver = await connect('receiver');
    await sender.emitWithAck('room:join', { room: 'r2' });
    await receiver.emitWithAck('room:join', { room: 'r2' });
    const frames: string[] = [];
    const acks: string[] = [];
    receiver.onEvent = (frame) => frames.push(frame.toString());
    sender.onUnclaimedAck = (frame) => acks.push(frame.toString());
    sender.emitUnclaimed('message:send', { room: 'r2', text: 'fan', clientMessageId: 'c2' });
    await expect.poll(() => frames.length).toBe(1);
    await expect.poll(() => acks.length).toBe(1);
    expect(frames[0]).toMatch(/^42\["message:new",\{.*"text":"fan"/);
    expect(acks[0]).toMatch(/^43\d+\[\{"ok":true/);
  });

  it('rejects with the server message when the handshake is refused', async () => {
    await expect(RawSocketIoClient.connect({ url, auth: { name: 'refused' } })).rejects.toThrow(
      /connect_error.*not you/,
    );
  });
});
