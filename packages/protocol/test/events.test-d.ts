import { expectTypeOf, test } from 'vitest';
import type { Static } from '@sinclair/typebox';
import type { ChatMessage, ClientToServerEvents, SendMessagePayload, ServerToClientEvents } from '@switchyard/protocol';
import type { ChatMessageSchema, RoomEventPayload, SSE_EVENTS, SseEventName, SseEvents } from '@switchyard/protocol';

test('the event map and the schemas describe the same payloads', () => {
  expectTypeOf<Parameters<ClientToServerEvents['message:send']>[0]>().toEqualTypeOf<SendMessagePayload>();
  expectTypeOf<Parameters<ServerToClientEvents['message:new']>[0]>().toEqualTypeOf<Static<typeof ChatMessageSchema>>();
  expectTypeOf<ChatMessage['author']>().toEqualTypeOf<{ id: string; name: string }>();
});

test('an SSE stream carries each room event with the payload sockets get', () => {
  expectTypeOf<SseEvents['message:new']>().toEqualTypeOf<RoomEventPayload<'message:new'>>();
  expectTypeOf<SseEvents['presence:join']>().toEqualTypeOf<RoomEventPayload<'presence:join'>>();
  expectTypeOf<SseEvents['presence:leave']>().toEqualTypeOf<RoomEventPayload<'presence:leave'>>();
  expectTypeOf<SseEvents['typing']>().toEqualTypeOf<RoomEventPayload<'typing'>>();
  expectTypeOf<(typeof SSE_EVENTS)[number]>().toEqualTypeOf<SseEventName>();
});
