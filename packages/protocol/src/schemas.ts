import { type Static, Type } from '@sinclair/typebox';
import { ERRORS } from './errors.js';
import { LIMITS } from './limits.js';

/*
 * One TypeBox schema per inbound payload and HTTP body. The gateway compiles them for socket
 * events (validators.ts) and hands the same objects to fastify, which also derives OpenAPI
 * from them. Payload types are derived from the schemas so the two can never drift.
 */

export const RoomName = Type.String({
  ...LIMITS.roomName,
  description: 'Letters, digits and _ . : -, starting with a letter or digit',
});

export const MessageId = Type.String({ minLength: 1, maxLength: LIMITS.messageId.maxLength });

export const MemberSchema = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 128 }),
    name: Type.String({ minLength: LIMITS.displayName.minLength, maxLength: LIMITS.displayName.maxLength }),
  },
  { $id: 'Member', additionalProperties: false },
);

export const ChatMessageSchema = Type.Object(
  {
    id: MessageId,
    room: RoomName,
    text: Type.String(),
    author: MemberSchema,
    sentAt: Type.String({ format: 'date-time' }),
    clientMessageId: Type.Optional(Type.String()),
  },
  { $id: 'ChatMessage', additionalProperties: false },
);

const MessageText = Type.String({ minLength: LIMITS.messageText.minLength });
const ClientMessageId = Type.String(LIMITS.clientMessageId);

export const JoinRoomPayload = Type.Object({ room: RoomName }, { additionalProperties: false });
export const LeaveRoomPayload = Type.Object({ room: RoomName }, { additionalProperties: false });
export const SendMessagePayload = Type.Object(
  { room: RoomName, text: MessageText, clientMessageId: ClientMessageId },
  { additionalProperties: false },
);
export const TypingPayload = Type.Object({ room: RoomName }, { additionalProperties: false });
export const HistoryFetchPayload = Type.Object(
  {
    room: RoomName,
    before: Type.Optional(MessageId),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: LIMITS.historyPage.max })),
  },
  { additionalProperties: false },
);

/** `POST /v1/rooms/:room/messages` */
export const PublishMessageBody = Type.Object(
  {
    text: MessageText,
    /** Who the message is shown as; defaults to the publishing service. */
    author: Type.Optional(MemberSchema),
  },
  { additionalProperties: false },
);
export const RoomParams = Type.Object({ room: RoomName });

/** `GET /v1/rooms/:room/events` */
export const RoomEventsQuery = Type.Object(
  {
    lastEventId: Type.Optional(MessageId),
    token: Type.Optional(Type.String({ maxLength: 4096 })),
    typing: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

export const ErrorBodySchema = Type.Object(
  {
    code: Type.Union(Object.keys(ERRORS).map((code) => Type.Literal(code))),
    message: Type.String(),
  },
  { $id: 'ErrorBody' },
);

/** A user as others see them. */
export type Member = Static<typeof MemberSchema>;
/** A stored chat message. `id` is opaque and orders the messages of a room by string comparison. */
export type ChatMessage = Static<typeof ChatMessageSchema>;
export type JoinRoomPayload = Static<typeof JoinRoomPayload>;
export type LeaveRoomPayload = Static<typeof LeaveRoomPayload>;
export type SendMessagePayload = Static<typeof SendMessagePayload>;
export type TypingPayload = Static<typeof TypingPayload>;
export type HistoryFetchPayload = Static<typeof HistoryFetchPayload>;
export type PublishMessageBody = Static<typeof PublishMessageBody>;
export type RoomParams = Static<typeof RoomParams>;
export type RoomEventsQuery = Static<typeof RoomEventsQuery>;

/** The schema of each client event's first argument. */
export const CLIENT_EVENT_SCHEMAS = {
  'room:join': JoinRoomPayload,
  'room:leave': LeaveRoomPayload,
  'message:send': SendMessagePayload,
  typing: TypingPayload,
  'history:fetch': HistoryFetchPayload,
} as const;
