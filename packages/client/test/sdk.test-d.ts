import { expectTypeOf, it } from 'vitest';
import type { Ack, JoinRoomResult, SendMessageResult } from '@switchyard/protocol';
import type {
  ChatMessage,
  ConnectionState,
  HistoryPage,
  Member,
  PresenceChange,
  Room,
  SwitchyardClient,
  SwitchyardClientError,
  TypingEvent,
} from '../src/index.js';

declare const client: SwitchyardClient;
declare const room: Room;

it('types room events by name', () => {
  room.on('message', (message) => expectTypeOf(message).toEqualTypeOf<ChatMessage>());
  room.on('presence', (change) => {
    expectTypeOf(change).toEqualTypeOf<PresenceChange>();
    expectTypeOf(change.type).toEqualTypeOf<'join' | 'leave'>();
    expectTypeOf(change.member).toEqualTypeOf<Member>();
  });
  room.on('typing', (event) => expectTypeOf(event).toEqualTypeOf<TypingEvent>());
  expectTypeOf(room.on('message', () => {})).toEqualTypeOf<() => void>();
  // @ts-expect-error not a room event
  room.on('mesage', () => {});
});

it('types requests by their results', () => {
  expectTypeOf(client.join('lobby')).toEqualTypeOf<Promise<Room>>();
  expectTypeOf(room.send('hi')).toEqualTypeOf<Promise<ChatMessage>>();
  expectTypeOf(room.history({ before: 'id', limit: 10 })).toEqualTypeOf<Promise<HistoryPage>>();
  expectTypeOf(room.members).toEqualTypeOf<readonly Member[]>();
  expectTypeOf(client.state).toEqualTypeOf<ConnectionState>();
  client.onState((state, error) => {
    expectTypeOf(state).toEqualTypeOf<ConnectionState>();
    expectTypeOf(error).toEqualTypeOf<SwitchyardClientError | undefined>();
  });
});

it('carries protocol error codes', () => {
  expectTypeOf<SwitchyardClientError['code']>().toEqualTypeOf<import('@switchyard/protocol').ErrorCode>();
});

it("types the raw socket with the protocol's event maps, typing included", () => {
  // @ts-expect-error a room is a string
  client.socket.emit('typing', { room: 1 });
  client.socket.emit('typing', { room: 'lobby' });
  // @ts-expect-error typing is fire-and-forget: no typed ack, whatever the arguments
  void client.socket.emitWithAck('typing', { room: 1 });
  // @ts-expect-error a room is a string
  void client.socket.emitWithAck('room:join', { room: 1 });
  expectTypeOf(client.socket.emitWithAck('room:join', { room: 'lobby' })).toEqualTypeOf<Promise<Ack<JoinRoomResult>>>();
  expectTypeOf(
    client.socket.emitWithAck('message:send', { room: 'lobby', text: 'hi', clientMessageId: 'c1' }),
  ).toEqualTypeOf<Promise<Ack<SendMessageResult>>>();
  // @ts-expect-error not a client event
  client.socket.emit('typo', { room: 'lobby' });
  client.socket.on('typing', (event) => expectTypeOf(event.member).toEqualTypeOf<Member>());
});
