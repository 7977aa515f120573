import { type Static, Type } from '@sinclair/typebox';
import { ERRORS, type ErrorCode } from './errors.js';
import { type ConfiguredLimits, LIMITS } from './limits.js';

/*
 * One TypeBox schema per inbound payload, HTTP body, query and header set. The gateway compiles
 * them (validators.ts) for socket events and for its routes, and hands the same objects to fastify,
 * which derives OpenAPI from them. Payload types are derived from the schemas so the two can never
 * drift. Every length limit lives here: a gateway configured tighter builds its schemas with
 * `clientEventSchemas(limits)` / `publishMessageBody(limits)`.
 */

/**
 * Schema option: the error code a value that is present but breaks this schema gets, instead of
 * INVALID_PAYLOAD: one code for every keyword, or one per keyword (`maxLength`, `minLength`,
 * `pattern`, `type`). Read by `compileValidator`; an `x-` name, so OpenAPI documents keep it as an extension.
 */
export const REFUSED_AS = 'x-refused-as';
export type RefusedAs = ErrorCode | Partial<Record<'maxLength' | 'minLength' | 'pattern' | 'type', ErrorCode>>;

// Control characters would let a name forge lines in logs and UIs, and bidirectional overrides and
// isolates (U+202A-U+202E, U+2066-U+2069) make one name read as another.
const NO_CONTROL_CHARACTERS = '^[^\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069]*$';

export const RoomName = Type.String({
  ...LIMITS.roomName,
  description: 'Letters, digits and _ . : -, starting with a letter or digit',
  [REFUSED_AS]: 'INVALID_ROOM' satisfies RefusedAs,
});

export const MessageId = Type.String({ minLength: 1, maxLength: LIMITS.messageId.maxLength });

/** A user id: a JWT's `sub` (any characters) or an anonymous client's `userId` (see `AnonymousUserId`). */
export const UserId = Type.String(LIMITS.userId);
/** The `userId` an anonymous client may pick: readable in logs and room names. */
export const AnonymousUserId = Type.String({ ...LIMITS.userId, pattern: '^[A-Za-z0-9_.:@|-]*$' });
/** A display name, after trimming. */
export const DisplayName = Type.String({ ...LIMITS.displayName, pattern: NO_CONTROL_CHARACTERS });
export const AccessToken = Type.String(LIMITS.accessToken);
export const ApiKey = Type.String(LIMITS.apiKey);

/** Who an HTTP publisher posts as: the same rules as names chosen at a handshake, and an id without control characters. */
export const PublishAuthor = Type.Object(
  { id: Type.String({ ...LIMITS.userId, pattern: NO_CONTROL_CHARACTERS }), name: DisplayName },
  { additionalProperties: false },
);

export const MemberSchema = Type.Object(
  { id: UserId, name: Type.String(LIMITS.displayName) },
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

/** Message text: at most `maxMessageLength` (never more than the protocol's bound); too long is MESSAGE_TOO_LONG. */
export function messageText({ maxMessageLength }: ConfiguredLimits = {}) {
  return Type.String({
    minLength: LIMITS.messageText.minLength,
    maxLength: Math.min(maxMessageLength ?? LIMITS.messageText.maxLength, LIMITS.messageText.maxLength),
    [REFUSED_AS]: { maxLength: 'MESSAGE_TOO_LONG' } satisfies RefusedAs,
  });
}
const ClientMessageId = Type.String(LIMITS.clientMessageId);

export const JoinRoomPayload = Type.Object({ room: RoomName }, { additionalProperties: false });
export const LeaveRoomPayload = Type.Object({ room: RoomName }, { additionalProperties: false });
export function sendMessagePayload(limits: ConfiguredLimits = {}) {
  return Type.Object(
    { room: RoomName, text: messageText(limits), clientMessageId: ClientMessageId },
    { additionalProperties: false },
  );
}
export const SendMessagePayload = sendMessagePayload();
export const TypingPayload = Type.Object({ room: RoomName }, { additionalProperties: false });
export const HistoryFetchPayload = Type.Object(
  {
    room: RoomName,
    before: Type.Optional(MessageId),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: LIMITS.historyPage.max })),
  },
  { additionalProperties: false },
);

/** `members:list`: a page of a room's members, ordered by id, after `cursor` (the `nextCursor` of the page before). */
export const MembersListPayload = Type.Object(
  {
    room: RoomName,
    cursor: Type.Optional(UserId),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: LIMITS.membersPage.max })),
  },
  { additionalProperties: false },
);

/*
 * Between gateway nodes (`io.serverSideEmit`): each node tells the others, once per presence
 * interval, how its own share of each changed room moved (the users whose first socket on that node
 * arrived or whose last one left), numbered so a receiver notices a missed batch and asks for a
 * snapshot instead. Checked on arrival like any other input: another node's bug must not crash this one.
 */

/** One room's change on the sending node since its previous share of that room (`prev`; 0: from empty). */
export const PresenceShareSchema = Type.Object(
  {
    room: RoomName,
    seq: Type.Integer({ minimum: 1 }),
    prev: Type.Integer({ minimum: 0 }),
    joined: Type.Array(MemberSchema),
    left: Type.Array(UserId),
  },
  { additionalProperties: false },
);
export const PresenceSharesSchema = Type.Object(
  { uid: Type.String({ minLength: 1, maxLength: 128 }), rooms: Type.Array(PresenceShareSchema) },
  { additionalProperties: false },
);
/** A node's whole share of one room, as of its share numbered `seq` (0: it never sent one). */
export const PresenceSnapshotSchema = Type.Object(
  {
    uid: Type.String({ minLength: 1, maxLength: 128 }),
    seq: Type.Integer({ minimum: 0 }),
    members: Type.Array(MemberSchema),
  },
  { additionalProperties: false },
);

/** What a client may put in the handshake's `auth` (anonymous mode: a name and a user id; jwt mode: the token). */
export const HandshakeAuth = Type.Object({
  name: Type.Optional(Type.String()),
  userId: Type.Optional(AnonymousUserId),
  token: Type.Optional(AccessToken),
});

/** `POST /v1/rooms/:room/messages` */
export function publishMessageBody(limits: ConfiguredLimits = {}) {
  return Type.Object(
    {
      text: messageText(limits),
      /** Who the message is shown as; defaults to the publishing service. */
      author: Type.Optional(PublishAuthor),
    },
    { additionalProperties: false },
  );
}
export const PublishMessageBody = publishMessageBody();
export const PublishHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({
      ...LIMITS.idempotencyKey,
      description: 'Retries with the same key (per publisher and room) store and broadcast once',
    }),
  ),
  'x-api-key': Type.Optional(Type.String({ description: 'An API key (or send it as Authorization: Bearer)' })),
});
export const RoomParams = Type.Object({ room: RoomName });

/** `GET /v1/rooms/:room/events` */
export const RoomEventsQuery = Type.Object(
  {
    lastEventId: Type.Optional(MessageId),
    token: Type.Optional(AccessToken),
    typing: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export const RoomEventsHeaders = Type.Object({ 'last-event-id': Type.Optional(MessageId) });

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
export type MembersListPayload = Static<typeof MembersListPayload>;
export type PresenceShare = Static<typeof PresenceShareSchema>;
export type PresenceShares = Static<typeof PresenceSharesSchema>;
export type PresenceSnapshot = Static<typeof PresenceSnapshotSchema>;
export type HandshakeAuth = Static<typeof HandshakeAuth>;
export type PublishMessageBody = Static<typeof PublishMessageBody>;
export type PublishHeaders = Static<typeof PublishHeaders>;
export type RoomParams = Static<typeof RoomParams>;
export type RoomEventsQuery = Static<typeof RoomEventsQuery>;
export type RoomEventsHeaders = Static<typeof RoomEventsHeaders>;

/** The schema of each client event's first argument, with the message text bounded by `limits`. */
export function clientEventSchemas(limits: ConfiguredLimits = {}) {
  return {
    'room:join': JoinRoomPayload,
    'room:leave': LeaveRoomPayload,
    'message:send': sendMessagePayload(limits),
    typing: TypingPayload,
    'history:fetch': HistoryFetchPayload,
    'members:list': MembersListPayload,
  } as const;
}

/** The schema of each client event's first argument, at the protocol's own bounds. */
export const CLIENT_EVENT_SCHEMAS = clientEventSchemas();
