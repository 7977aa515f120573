import type { ErrorBody, ErrorCode } from './errors.js';
import type {
  ChatMessage,
  Member,
  HistoryFetchPayload,
  JoinRoomPayload,
  LeaveRoomPayload,
  SendMessagePayload,
  TypingPayload,
} from './schemas.js';

export type {
  ChatMessage,
  Member,
  HistoryFetchPayload,
  JoinRoomPayload,
  LeaveRoomPayload,
  SendMessagePayload,
  TypingPayload,
};

export type AckOk<T extends object = object> = { ok: true } & T;
export interface AckError {
  ok: false;
  error: ErrorBody;
}
export type Ack<T extends object = object> = AckOk<T> | AckError;
export type AckCallback<T extends object = object> = (response: Ack<T>) => void;

export interface JoinRoomResult {
  room: string;
  /** The room's members, at most a bounded number of them (see `memberCount`). */
  members: Member[];
  /** How many distinct members the room has; more than `members.length` in a very large room. */
  memberCount?: number;
  /** The latest messages, oldest first. */
  messages: ChatMessage[];
}
export interface SendMessageResult {
  message: ChatMessage;
}
export interface HistoryPage {
  room: string;
  /** Oldest first. */
  messages: ChatMessage[];
  hasMore: boolean;
}

export interface PresenceEvent {
  room: string;
  member: Member;
}
export interface TypingEvent {
  room: string;
  member: Member;
}
/** Why the gateway is closing this connection on its own (sent just before it does). */
export interface DisconnectNotice {
  /** `TOKEN_EXPIRED`: the JWT reached its `exp`; reconnect with a fresh token to carry on. */
  code: ErrorCode;
  message: string;
}
export interface ShutdownNotice {
  reason: 'draining';
  /** The client should reconnect (to another node) after about this long. */
  reconnectAfterMs: number;
}

/**
 * Events a client may emit. Every payload has a runtime schema in `schemas.ts`. Requests take an
 * ack; `typing` is fire-and-forget and typed without one (the gateway still answers `{ ok: true }`
 * to an ack it is given): an optional ack would make socket.io's typed `emitWithAck` accept any
 * arguments for it.
 */
export interface ClientToServerEvents {
  'room:join': (payload: JoinRoomPayload, ack: AckCallback<JoinRoomResult>) => void;
  'room:leave': (payload: LeaveRoomPayload, ack: AckCallback<{ room: string }>) => void;
  'message:send': (payload: SendMessagePayload, ack: AckCallback<SendMessageResult>) => void;
  typing: (payload: TypingPayload) => void;
  'history:fetch': (payload: HistoryFetchPayload, ack: AckCallback<HistoryPage>) => void;
}

/** Events the gateway emits to clients. */
export interface ServerToClientEvents {
  'message:new': (message: ChatMessage) => void;
  'presence:join': (event: PresenceEvent) => void;
  'presence:leave': (event: PresenceEvent) => void;
  typing: (event: TypingEvent) => void;
  'server:shutdown': (notice: ShutdownNotice) => void;
  /** The gateway closes this connection right after (a JWT that reached its `exp`): the transport closes, the client reconnects. */
  'server:disconnect': (notice: DisconnectNotice) => void;
  /** An inbound event that carried no ack callback was refused. */
  'gateway:error': (error: ErrorBody & { event: string }) => void;
}

/** What one node answers to `members:list`: the members it holds in the room (its presence registry). */
export type MembersListReply = Member[];

/** Events between gateway nodes (`io.serverSideEmit`). */
export interface InterServerEvents {
  /** A node asks the others for the members they hold in a room; each answers once. */
  'members:list': (room: string, reply: (members: MembersListReply) => void) => void;
}

/** What the gateway keeps on each socket (`socket.data`). */
export interface SocketData {
  user: Member;
  /** When the JWT the socket connected with expires (ms since the epoch); the connection is closed then. */
  tokenExpiresAt?: number;
}

/** Names of the client events, for validation of unknown events at runtime. */
export const CLIENT_EVENTS = [
  'room:join',
  'room:leave',
  'message:send',
  'typing',
  'history:fetch',
] as const satisfies readonly (keyof ClientToServerEvents)[];
export type ClientEventName = (typeof CLIENT_EVENTS)[number];

/** Names of room events streamed over SSE. */
export const ROOM_EVENTS = [
  'message:new',
  'presence:join',
  'presence:leave',
  'typing',
] as const satisfies readonly (keyof ServerToClientEvents)[];
export type RoomEventName = (typeof ROOM_EVENTS)[number];
/** The payload of one room event, e.g. `RoomEventPayload<'message:new'>` is a `ChatMessage`. */
export type RoomEventPayload<E extends RoomEventName = RoomEventName> = Parameters<ServerToClientEvents[E]>[0];
