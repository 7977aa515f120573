import { createHash } from 'node:crypto';
import rateLimit from '@fastify/rate-limit';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { Counter } from 'prom-client';
import {
  type ChatMessage,
  ChatMessageSchema,
  ErrorBodySchema,
  type PublishMessageBody,
  PublishHeaders,
  publishMessageBody,
  RoomParams,
  SwitchyardError,
} from '@switchyard/protocol';
import { createApiKeyCheck } from './api-keys.js';
import type { TokenVerifier } from '../auth/identify.js';
import { createPublisherCheck, type Publisher } from './publisher.js';
import type { RoomAccess } from '../rooms/access.js';
import type { GatewayConfig } from '../config.js';
import type { GatewayMetrics } from '../metrics/registry.js';
import type { RoomEvents } from '../rooms/room-events.js';
import type { MessageStore } from '../store/message-store.js';
import { httpErrorOf } from '../http/errors.js';

/*
 * `POST /v1/rooms/:room/messages`: backend services publish into rooms without a socket.
 * Order of checks: credentials (401/403, before the body is read), body size (413), schema
 * (400, or 413 MESSAGE_TOO_LONG), rate limit per publisher (429), room access (403). The message is
 * stored, then goes out like any other: `message:new` to sockets and SSE streams on every node.
 */

export interface HttpApiPluginOptions {
  config: GatewayConfig;
  store: MessageStore;
  roomEvents: RoomEvents;
  roomAccess: RoomAccess;
  verifyToken: TokenVerifier | undefined;
  metrics: GatewayMetrics;
}

declare module 'fastify' {
  interface FastifyRequest {
    publisher?: Publisher;
  }
}

export const httpApiPlugin: FastifyPluginAsync<HttpApiPluginOptions> = async (
  app,
  { config, store, roomEvents, roomAccess, verifyToken, metrics },
) => {
  const publisherOf = createPublisherCheck(createApiKeyCheck(config.publish.apiKeySha256), verifyToken);
  const published = new Counter({
    name: 'switchyard_http_publish_total',
    help: 'HTTP publish requests, by result: created, replayed (idempotent retry) or the error code',
    labelNames: ['result'],
    registers: [metrics.registry],
  });

  // Encapsulated: the limit applies to this plugin's routes only.
  await app.register(rateLimit, { global: false, hook: 'preHandler' });
  app.decorateRequest('publisher', undefined);

  app.post<{ Params: RoomParams; Body: PublishMessageBody; Headers: { 'idempotency-key'?: string } }>(
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
        headers: PublishHeaders,
        body: publishMessageBody({ maxMessageLength: config.maxMessageLength }),
        response: { 201: ChatMessageSchema, '4xx': ErrorBodySchema, '5xx': ErrorBodySchema },
      },
      onRequest: async (request) => {
        request.publisher = await publisherOf(request.headers);
      },
      onError: async (_request, _reply, error) => {
        published.inc({ result: httpErrorOf(error).body.code });
      },
    },
    async (request, reply) => {
      const publisher = request.publisher as Publisher;
      const { room } = request.params;
      const { text, author } = request.body;
      if (publisher.user !== undefined) {
        if (!roomAccess(publisher.user, room))
          throw new SwitchyardError('FORBIDDEN', 'This room is private to another user');
        if (author !== undefined && author.id !== publisher.user.id)
          throw new SwitchyardError('FORBIDDEN', 'A user can only publish as themself');
      }
      const idempotencyKey = request.headers['idempotency-key'];
      const { message, created } = await store.append({
        room,
        text,
        author: author ?? publisher.defaultAuthor,
        ...(idempotencyKey === undefined
          ? {}
          : { clientMessageId: clientMessageIdOf(publisher, room, idempotencyKey) }),
      });
      if (created) roomEvents.emit(room, 'message:new', message);
      published.inc({ result: created ? 'created' : 'replayed' });
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
