import type { SwitchyardClientError } from './errors.js';

/**
 * - `connecting`: the first connection is being made.
 * - `connected`: connected, and every joined room is rejoined and caught up; requests go out now.
 * - `reconnecting`: the connection was lost and the SDK is getting it back.
 * - `disconnected`: closed by `client.close()`, refused by the gateway, or dropped for good.
 */
export type ConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'disconnected';

/** Called on every state change; `error` says why, when the new state is `disconnected` for a reason. */
export type StateListener = (state: ConnectionState, error?: SwitchyardClientError) => void;
