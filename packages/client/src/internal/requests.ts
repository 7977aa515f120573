import type { AckCallback, ClientToServerEvents } from '@switchyard/protocol';

/** The client events that answer with an ack: each is a request with a typed result. */
export type RequestEvent = 'room:join' | 'room:leave' | 'message:send' | 'history:fetch' | 'members:list';
export type RequestPayload<E extends RequestEvent> = Parameters<ClientToServerEvents[E]>[0];
export type RequestResult<E extends RequestEvent> =
  Parameters<ClientToServerEvents[E]>[1] extends AckCallback<infer R> ? R : never;

/** Sends one request and settles with its ack; rejects with a `SwitchyardClientError`. */
export type Requester = <E extends RequestEvent>(event: E, payload: RequestPayload<E>) => Promise<RequestResult<E>>;
