import type { ErrorBody, ErrorCode } from './errors.js';
import type {
  ChatMessage,
  Member,
  HistoryFetchPayload,
  JoinRoomPayload,
  LeaveRoomPayload,
  MembersListPayload,
  PresenceShares,
  PresenceSnapshot,
  SendMessagePayload,
  TypingPayload,
} from './schemas.js';

export type {
  ChatMessage,
  Member,
  HistoryFetchPayload,
  JoinRoomPayload,
  LeaveRoomPayload,
  MembersListPayload,
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

/**
 * How a room's presence reaches its members. `members`: every member is listed, and joins and
 * leaves arrive as `presence:diff`. `large` (more members than the gateway's LARGE_ROOM_THRESHOLD):
 * only the count is pushed (`presence:count`); the list is read page by page with `members:list`.
 */
export type PresenceMode = 'members' | 'large';

export interface JoinRoomResult {
  room: string;
  mode: PresenceMode;
  /** Every member in `members` mode (the joiner included); empty in `large` mode (page through `members:list`). */
  members: Member[];
  /** How many distinct members the room has. */
  memberCount: number;
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

/** One member of a room, in a presence change the SDK reports. */
export interface PresenceEvent {
  room: string;
  member: Member;
}

/**
 * `members` mode: who arrived and who left the room during the gateway's last presence interval
 * (PRESENCE_INTERVAL_MS), in one event. Each entry states where a member is now, so applying an
 * event twice, or after a join ack that already reflects it, changes nothing. With `full`, `joined`
 * is the whole member list and replaces what the client holds: sent when a room leaves `large` mode,
 * and to a session restored by connection state recovery.
 */
export interface PresenceDiff {
  room: string;
  joined: Member[];
  left: Member[];
  /** Distinct members now. */
  count: number;
  full?: true;
}

/** `large` mode: how many distinct members the room has now. The first one after `members` mode says the room became large. */
export interface PresenceCount {
  room: string;
  count: number;
}

/** A page of `members:list`: members ordered by id, in either mode. */
export interface MembersPage {
  room: string;
  mode: PresenceMode;
  count: number;
  members: Member[];
  /** Pass as `cursor` for the next page; absent on the last page. */
  nextCursor?: string;
}

export interface TypingEvent {
  room: string;
  member: Member;
}
/** Why the gateway is closing this connection on its own (sent just before it does). */
export interface DisconnectNotice {
  /**
   * `SLOW_CONSUMER`: the client fell too far behind; reconnect and resume.
   * `TOKEN_EXPIRED`: the JWT reached its `exp`; reconnect with a fresh token to carry on.
   */
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
  'members:list': (payload: MembersListPayload, ack: AckCallback<MembersPage>) => void;
}

/** Events the gateway emits to clients. */
export interface ServerToClientEvents {
  'message:new': (message: ChatMessage) => void;
  'presence:diff': (diff: PresenceDiff) => void;
  'presence:count': (count: PresenceCount) => void;
  typing: (event: TypingEvent) => void;
  'server:shutdown': (notice: ShutdownNotice) => void;
  /** The gateway closes this connection right after, and why (SLOW_CONSUMER, TOKEN_EXPIRED); the SDK reconnects and resumes. */
  'server:disconnect': (notice: DisconnectNotice) => void;
  /** An inbound event that carried no ack callback was refused. */
  'gateway:error': (error: ErrorBody & { event: string }) => void;
}

export type { PresenceShares, PresenceSnapshot };

/** Events between gateway nodes (`io.serverSideEmit`). */
export interface InterServerEvents {
  /** Once per presence interval: how this node's share of each changed room moved. */
  'presence:shares': (shares: PresenceShares) => void;
  /** A node asks the others for their whole share of a room; each answers once. */
  'presence:snapshot': (room: string, reply: (snapshot: PresenceSnapshot) => void) => void;
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
  'members:list',
] as const satisfies readonly (keyof ClientToServerEvents)[];
export type ClientEventName = (typeof CLIENT_EVENTS)[number];

/** Names of room events streamed over SSE. */
export const ROOM_EVENTS = [
  'message:new',
  'presence:diff',
  'presence:count',
  'typing',
] as const satisfies readonly (keyof ServerToClientEvents)[];
export type RoomEventName = (typeof ROOM_EVENTS)[number];
/** The payload of one room event, e.g. `RoomEventPayload<'message:new'>` is a `ChatMessage`. */
export type RoomEventPayload<E extends RoomEventName = RoomEventName> = Parameters<ServerToClientEvents[E]>[0];
