import { createHash } from 'node:crypto';
import rateLimit from '@fastify/rate-limit';
import type { FastifyPluginAsync, FastifyRequest, FastifySchema, FastifySchemaCompiler } from 'fastify';
import { type TSchema, Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { Counter } from 'prom-client';
import {
  type ChatMessage,
  ChatMessageSchema,
  ErrorBodySchema,
  PublishMessageBody,
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
import { throwIfInvalid } from '../http/request-checks.js';

/*
 * `POST /v1/rooms/:room/messages`: backend services publish into rooms without a socket.
 * Order of checks: credentials (401/403, before the body is read), body size (413), schema
 * (400), rate limit per publisher (429), room access (403), text length (413). The message is
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

const PublishHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 255,
      description: 'Retries with the same key (per publisher and room) store and broadcast once',
    }),
  ),
  'x-api-key': Type.Optional(Type.String({ description: 'An API key (or send it as Authorization: Bearer)' })),
});

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
      attachValidation: true,
      validatorCompiler: typeboxValidatorCompiler,
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
        body: PublishMessageBody,
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
      throwIfInvalid(request);
      const publisher = request.publisher as Publisher;
      const { room } = request.params;
      const { text, author } = request.body;
      if (publisher.user !== undefined) {
        if (!roomAccess(publisher.user, room))
          throw new SwitchyardError('FORBIDDEN', 'This room is private to another user');
        if (author !== undefined && author.id !== publisher.user.id)
          throw new SwitchyardError('FORBIDDEN', 'A user can only publish as themself');
      }
      if (text.length > config.maxMessageLength) {
        throw new SwitchyardError(
          'MESSAGE_TOO_LONG',
          `The message text is longer than ${config.maxMessageLength} characters`,
        );
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
 * Validates with TypeBox's compiler, like socket events, instead of fastify's Ajv (which strips
 * unknown properties where the protocol's schemas refuse them).
 */
const typeboxValidatorCompiler: FastifySchemaCompiler<FastifySchema> = ({ schema }) => {
  // Every schema of the route is a TypeBox schema from the protocol (or built here with TypeBox).
  const compiled = TypeCompiler.Compile(schema as TSchema);
  return (data: unknown) => {
    if (compiled.Check(data)) return { value: data };
    const first = compiled.Errors(data).First();
    return { error: new Error(first === undefined ? 'invalid' : `${first.path || '/'} ${first.message}`) };
  };
};

/**
 * The store dedupes by (author id, clientMessageId). Deriving the id from publisher, room and key
 * scopes a key to its publisher and room, and fits the protocol's 64-character bound.
 */
function clientMessageIdOf(publisher: Publisher, room: string, key: string): string {
  return `idem-${createHash('sha256').update(`${publisher.id}\u0000${room}\u0000${key}`).digest('base64url')}`;
}
