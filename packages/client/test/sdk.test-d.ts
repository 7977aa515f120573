import { expectTypeOf, it } from 'vitest';
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
