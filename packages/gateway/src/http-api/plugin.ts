import { createHash } from 'node:crypto';
import rateLimit, { type FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { Registry } from 'prom-client';
import {
  type ChatMessage,
  ChatMessageSchema,
  ErrorBodySchema,
  type PublishHeaders,
  PublishHeaders as PublishHeadersSchema,
  type PublishMessageBody,
  publishMessageBody,
  RoomParams,
} from '@switchyard/protocol';
import type { AuthFailures } from '../auth/failures.js';
import type { TokenVerifier } from '../auth/identify.js';
import type { GatewayConfig } from '../config.js';
import { httpErrorOf } from '../http/errors.js';
import type { RoomService } from '../rooms/service.js';
import { createApiKeyCheck } from './api-keys.js';
import { createPublishMetrics } from './metrics.js';
import { createPublisherCheck, type Publisher } from './publisher.js';

/*
 * `POST /v1/rooms/:room/messages`: backend services publish into rooms without a socket; the room
 * service stores the message and broadcasts it like any other (`message:new` to sockets and SSE
 * streams on every node). Order of checks: failed authentications of the client's address (429,
 * see auth/failures.ts), credentials (401/403, before the body is read), body size (413), schema
 * (400 INVALID_ROOM / INVALID_PAYLOAD, or 413 MESSAGE_TOO_LONG), rate limit per publisher (429),
 * then the room service's rules (403: a user's private rooms of others, or another author).
 */

export interface HttpApiPluginOptions {
  config: GatewayConfig;
  rooms: RoomService;
  verifyToken: TokenVerifier | undefined;
  /** Failed authentications per client address, shared with sockets and SSE. */
  authFailures: AuthFailures;
  /** MongoDB mode: a @fastify/rate-limit store shared by every node. */
  rateLimitStore?: FastifyRateLimitStoreCtor;
  registry: Registry;
}

declare module 'fastify' {
  interface FastifyRequest {
    publisher?: Publisher;
  }
}

export const httpApiPlugin: FastifyPluginAsync<HttpApiPluginOptions> = async (
  app,
  { config, rooms, verifyToken, authFailures, rateLimitStore, registry },
) => {
  const publisherOf = createPublisherCheck(createApiKeyCheck(config.publish.apiKeySha256), verifyToken);
  const metrics = createPublishMetrics(registry);

  // Encapsulated: the limit applies to this plugin's routes only.
  // MongoDB mode counts across the cluster (cluster/publish-rate-store.ts).
  await app.register(rateLimit, {
    global: false,
    hook: 'preHandler',
    ...(rateLimitStore === undefined ? {} : { store: rateLimitStore }),
  });
  app.decorateRequest('publisher', undefined);

  app.post<{ Params: RoomParams; Body: PublishMessageBody; Headers: PublishHeaders }>(
    '/v1/rooms/:room/messages',
    {
      config: {
        rateLimit: {
          max: config.publish.rateLimit.max,
          timeWindow: config.publish.rateLimit.windowMs,
          keyGenerator: (request: FastifyRequest) => request.publisher?.id ?? request.ip,
        },
      },
      schema: {
        summary: 'Publish a message into a room',
        description:
          'Authenticated by an API key (`X-API-Key` or `Authorization: Bearer <key>`) or by a JWT whose `scope` holds `publish`. ' +
          'The message reaches socket clients (`message:new`) and SSE subscribers of the room on every node.',
        security: [{ apiKey: [] }, { bearer: [] }],
        params: RoomParams,
        headers: PublishHeadersSchema,
        body: publishMessageBody({ maxMessageLength: config.maxMessageLength }),
        response: { 201: ChatMessageSchema, '4xx': ErrorBodySchema, '5xx': ErrorBodySchema },
      },
      onRequest: async (request) => {
        request.publisher = await authFailures.attempt(request.ip, () => publisherOf(request.headers));
      },
      onError: async (_request, _reply, error) => metrics.published(httpErrorOf(error).body.code),
    },
    async (request, reply) => {
      const publisher = request.publisher as Publisher;
      const { room } = request.params;
      const idempotencyKey = request.headers['idempotency-key'];
      const { message, created } = await rooms.post(publisher.poster, {
        room,
        text: request.body.text,
        author: request.body.author,
        clientMessageId: idempotencyKey === undefined ? undefined : clientMessageIdOf(publisher, room, idempotencyKey),
      });
      metrics.published(created ? 'created' : 'replayed');
      if (!created) reply.header('idempotent-replayed', 'true');
      return reply.code(201).send(message satisfies ChatMessage);
    },
  );
};

/**
 * The store dedupes by (author id, clientMessageId). Deriving the id from publisher, room and key
 * scopes a key to its publisher and room, and fits the protocol's 64-character bound.
 */
function clientMessageIdOf(publisher: Publisher, room: string, key: string): string {
  return `idem-${createHash('sha256').update(`${publisher.id}\u0000${room}\u0000${key}`).digest('base64url')}`;
}
