export {
  createClient,
  SwitchyardClient,
  type ClientOptions,
  type ClientEvents,
  type SwitchyardSocket,
  type Transport,
} from './client.js';
export { Room, type RoomEvents, type PresenceChange, type HistoryOptions } from './room.js';
export { SwitchyardClientError, isClientError } from './errors.js';
export type { ConnectionState, StateListener } from './connection-state.js';
export type { ChatMessage, Member, HistoryPage, TypingEvent, ErrorCode } from '@switchyard/protocol';
