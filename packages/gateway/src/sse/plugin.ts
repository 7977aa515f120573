import type { FastifyPluginAsync } from 'fastify';
import type { Logger } from 'pino';
import {
  ErrorBodySchema,
  type Member,
  RoomEventsHeaders,
  RoomEventsQuery,
  RoomParams,
  SwitchyardError,
} from '@switchyard/protocol';
import { bearerCredentials } from '../auth/bearer.js';
import { atTime } from '../auth/expiry.js';
import type { AuthFailures } from '../auth/failures.js';
import type { TokenVerifier } from '../auth/identify.js';
import type { RoomService } from '../rooms/service.js';
import type { GatewayConfig } from '../config.js';
import { httpErrorOf } from '../http/errors.js';
import type { GatewayMetrics } from '../metrics/registry.js';
import type { RoomEvents } from '../rooms/room-events.js';
import type { Lifecycle } from '../shutdown/lifecycle.js';
import type { MessageStore } from '../store/message-store.js';
import { preamble } from './frames.js';
import { SseHub } from './hub.js';
import { countRefused, createSseMetrics } from './metrics.js';
import { replayHistory } from './replay.js';

/*
 * `GET /v1/rooms/:room/events`: a room's events as Server-Sent Events. Checks run before any
 * byte is streamed, so refusals are ordinary JSON errors: schema (400), draining (503), auth
 * (401, or 429 for an address with too many failures), private room (403), stream limits (409).
 * A stream authenticated by a JWT ends at its `exp` with `event: error` TOKEN_EXPIRED. Then the stream subscribes to live events
 * first and replays history after `Last-Event-ID` (header, else `?lastEventId=`) second.
 */

export interface SsePluginOptions {
  /** Where the streams' events come from: what this node delivers to its sockets. */
  roomEvents: RoomEvents;
  store: MessageStore;
  config: GatewayConfig;
  lifecycle: Lifecycle;
  /** Who may read which room. */
  rooms: RoomService;
  /** Undefined in anonymous mode: streams are open to anyone, private rooms to no one. */
  verifyToken: TokenVerifier | undefined;
  /** Failed authentications per client address, shared with sockets and the HTTP API. */
  authFailures: AuthFailures;
  metrics: GatewayMetrics;
  log: Logger;
}

const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  // nginx would otherwise buffer the stream.
  'x-accel-buffering': 'no',
  connection: 'keep-alive',
} as const;

export const ssePlugin: FastifyPluginAsync<SsePluginOptions> = async (
  app,
  { roomEvents, store, config, lifecycle, rooms, verifyToken, authFailures, log, ...options },
) => {
  const metrics = createSseMetrics(options.metrics);
  const hub = new SseHub({ roomEvents, config: config.sse, metrics, log, watch: (room) => rooms.watch(room) });
  // Streams are told and ended at once; their clients reconnect (elsewhere) by themselves.
  lifecycle.onDraining(() => hub.closeAll({ reason: 'draining', reconnectAfterMs: config.sse.retryMs }));
  app.addHook('onClose', async () => hub.stop());

  /** The reader (undefined in anonymous mode) and when its token expires. */
  async function identify(
    address: string,
    authorization: string | undefined,
    queryToken: string | undefined,
  ): Promise<{ user?: Member; expiresAt?: number }> {
    if (verifyToken === undefined) return {};
    return authFailures.attempt(address, () => verifyToken(authorization ?? queryToken));
  }

  app.get<{ Params: RoomParams; Querystring: RoomEventsQuery; Headers: RoomEventsHeaders }>(
    '/v1/rooms/:room/events',
    {
      // Every refusal, the schemas' included (those never reach the handler).
      onError: async (_request, _reply, error) => countRefused(metrics, httpErrorOf(error).body.code),
      schema: {
        summary: "Stream a room's events (Server-Sent Events)",
        description:
          'Events: `message:new` (with `id:`, the message id), `presence:diff` (members mode) or `presence:count` (large rooms), starting with the room as it is, `typing` (with `?typing=true`), ' +
          '`gap`, `error` (then the stream ends; resume with the last id), `server:shutdown`. Resume with the `Last-Event-ID` header or `?lastEventId=`. ' +
          'In jwt mode authenticate with `Authorization: Bearer <jwt>` or `?token=`.',
        params: RoomParams,
        querystring: RoomEventsQuery,
        headers: RoomEventsHeaders,
        response: {
          200: { description: 'The event stream', content: { 'text/event-stream': { schema: { type: 'string' } } } },
          '4xx': ErrorBodySchema,
          '5xx': ErrorBodySchema,
        },
      },
    },
    async (request, reply) => {
      const { room } = request.params;
      if (lifecycle.draining) throw new SwitchyardError('SHUTTING_DOWN');
      const { user, expiresAt } = await identify(request.ip, bearerCredentials(request.headers), request.query.token);
      rooms.assertAccess(user, room);
      const resumeFrom = request.headers['last-event-id'] ?? request.query.lastEventId;
      hub.admit(user?.id ?? request.ip);

      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { ...definedHeaders(reply.getHeaders()), ...SSE_HEADERS });
      request.raw.socket.setNoDelay(true);
      request.raw.socket.setTimeout(0);
      const stream = hub.open({
        res,
        room,
        clientKey: user?.id ?? request.ip,
        typing: request.query.typing === true,
        resumeFrom,
      });
      stream.writeRaw(preamble(config.sse.retryMs));
      // The room's presence as it is now; later presence events change it.
      const presence = rooms.presenceState(room);
      if (presence.event === 'presence:diff') hub.offerTo(stream, presence.event, presence.payload);
      else hub.offerTo(stream, presence.event, presence.payload);
      // Access ends with the token: `event: error` TOKEN_EXPIRED, and the client resumes with a fresh one.
      if (expiresAt !== undefined)
        res.once(
          'close',
          atTime(expiresAt, () => stream.fail('TOKEN_EXPIRED')),
        );
      log.debug({ room, userId: user?.id, resuming: resumeFrom !== undefined }, 'stream opened');
      if (resumeFrom === undefined) return;
      try {
        stream.goLive(await replayHistory(stream, store, room, resumeFrom));
      } catch (err) {
        log.error({ err, room }, 'replay failed');
        stream.fail('INTERNAL');
      }
    },
  );
};

/** Headers set by earlier hooks (CORS), for a hijacked reply. */
function definedHeaders(
  headers: Record<string, string | number | string[] | undefined>,
): Record<string, string | number | string[]> {
  const out: Record<string, string | number | string[]> = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined) out[name] = value;
  return out;
}
