import { expectTypeOf, test } from 'vitest';
import type { Static } from '@sinclair/typebox';
import type { ChatMessage, ClientToServerEvents, SendMessagePayload, ServerToClientEvents } from '@switchyard/protocol';
import type { ChatMessageSchema, RoomEventPayload, SSE_EVENTS, SseEventName, SseEvents } from '@switchyard/protocol';
import type {
  AckCallback,
  InterServerEvents,
  JoinRoomResult,
  MembersListPayload,
  MembersPage,
  PresenceMode,
  PresenceSharesSchema,
} from '@switchyard/protocol';

test('the event map and the schemas describe the same payloads', () => {
  expectTypeOf<Parameters<ClientToServerEvents['message:send']>[0]>().toEqualTypeOf<SendMessagePayload>();
  expectTypeOf<Parameters<ServerToClientEvents['message:new']>[0]>().toEqualTypeOf<Static<typeof ChatMessageSchema>>();
  expectTypeOf<ChatMessage['author']>().toEqualTypeOf<{ id: string; name: string }>();
});

test('members:list takes the schema payload and answers a page in either presence mode', () => {
  expectTypeOf<Parameters<ClientToServerEvents['members:list']>[0]>().toEqualTypeOf<MembersListPayload>();
  expectTypeOf<Parameters<ClientToServerEvents['members:list']>[1]>().toEqualTypeOf<AckCallback<MembersPage>>();
  expectTypeOf<JoinRoomResult['mode']>().toEqualTypeOf<PresenceMode>();
  expectTypeOf<MembersPage['mode']>().toEqualTypeOf<'members' | 'large'>();
  expectTypeOf<Parameters<InterServerEvents['presence:shares']>[0]>().toEqualTypeOf<
    Static<typeof PresenceSharesSchema>
  >();
});

test('an SSE stream carries each room event with the payload sockets get', () => {
  expectTypeOf<SseEvents['message:new']>().toEqualTypeOf<RoomEventPayload<'message:new'>>();
  expectTypeOf<SseEvents['presence:diff']>().toEqualTypeOf<RoomEventPayload<'presence:diff'>>();
  expectTypeOf<SseEvents['presence:count']>().toEqualTypeOf<RoomEventPayload<'presence:count'>>();
  expectTypeOf<SseEvents['typing']>().toEqualTypeOf<RoomEventPayload<'typing'>>();
  expectTypeOf<(typeof SSE_EVENTS)[number]>().toEqualTypeOf<SseEventName>();
});
