import { expectTypeOf, test } from 'vitest';
import type { Static } from '@sinclair/typebox';
import type { ChatMessage, ClientToServerEvents, SendMessagePayload, ServerToClientEvents } from '@switchyard/protocol';
import type { ChatMessageSchema } from '@switchyard/protocol';

test('the event map and the schemas describe the same payloads', () => {
  expectTypeOf<Parameters<ClientToServerEvents['message:send']>[0]>().toEqualTypeOf<SendMessagePayload>();
  expectTypeOf<Parameters<ServerToClientEvents['message:new']>[0]>().toEqualTypeOf<Static<typeof ChatMessageSchema>>();
  expectTypeOf<ChatMessage['author']>().toEqualTypeOf<{ id: string; name: string }>();
});
