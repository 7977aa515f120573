import type { Server } from 'socket.io';
import type { ChatMessage } from '@switchyard/protocol';

/**
 * The baseline's chat: what a developer writes with bare socket.io in a few lines — join a room, emit a
 * message to it, ack the sender — with no validation, auth, history or metrics. Messages have the same
 * shape as the gateway's so both servers encode and send the same bytes.
 */
export function attachBareChat(io: Server): void {
  let sequence = 0;
  io.on('connection', (socket) => {
    const name = typeof socket.handshake.auth?.name === 'string' ? socket.handshake.auth.name : 'anonymous';
    const author = { id: socket.id, name };
    socket.on('room:join', (payload: { room: string }, ack?: (response: unknown) => void) => {
      void socket.join(payload.room);
      ack?.({ ok: true, room: payload.room, members: [], messages: [] });
    });
    socket.on(
      'message:send',
      (payload: { room: string; text: string; clientMessageId: string }, ack?: (response: unknown) => void) => {
        sequence += 1;
        const message: ChatMessage = {
          id: String(sequence).padStart(12, '0'),
          room: payload.room,
          text: payload.text,
          author,
          sentAt: new Date().toISOString(),
          clientMessageId: payload.clientMessageId,
        };
        io.to(payload.room).emit('message:new', message);
        ack?.({ ok: true, message });
      },
    );
  });
}
