export {
  createClient,
  SwitchyardClient,
  type ClientOptions,
  type ClientEvents,
  type SwitchyardSocket,
  type Transport,
} from './client.js';
export {
  Room,
  type RoomEvents,
  type RoomCount,
  type PresenceChange,
  type HistoryOptions,
  type MembersOptions,
} from './room.js';
export { SwitchyardClientError, isClientError } from './errors.js';
export type { ConnectionState, StateListener } from './connection-state.js';
export type {
  ChatMessage,
  Member,
  MembersPage,
  HistoryPage,
  PresenceMode,
  TypingEvent,
  ErrorCode,
} from '@switchyard/protocol';
