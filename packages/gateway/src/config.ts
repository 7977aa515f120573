import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import proxyAddr from '@fastify/proxy-addr';
import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { envSchema } from 'env-schema';
import { LIMITS } from '@switchyard/protocol';

/*
 * The gateway is configured from environment variables only. Everything is validated once at
 * start-up against one schema; every problem is reported in a single coded error, by variable
 * name, and the result is frozen.
 */

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const TRANSPORT_NAMES = ['polling', 'websocket'] as const;
export type TransportName = (typeof TRANSPORT_NAMES)[number];

/** Node ids end Engine.IO session ids (`<random>.gw1`), which the load balancer routes on. */
const NODE_ID_PATTERN = '^[a-z0-9-]{1,63}$';

/** Connection state recovery window in MongoDB mode unless MAX_DISCONNECTION_DURATION_MS says otherwise. */
const DEFAULT_MAX_DISCONNECTION_DURATION_MS = 120_000;

/** One API key: printable ASCII but the comma that separates keys, within the protocol's bounds. */
const API_KEY_PATTERN = `[!-+\\--~]{${LIMITS.apiKey.minLength},${LIMITS.apiKey.maxLength}}`;

/** HS256 secrets shorter than this are brute-forceable. */
export const MIN_JWT_SECRET_LENGTH = 32;
/** The secret that signs forwarded requests between nodes: as long as a JWT secret. */
export const MIN_CLUSTER_SECRET_LENGTH = 32;

// `description` doubles as the "expected" text of a problem report.
const EnvSchema = Type.Object({
  PORT: Type.Integer({
    minimum: 0,
    maximum: 65535,
    default: 3000,
    description: 'an integer port 0-65535 (0 picks a free port)',
  }),
  HOST: Type.String({
    minLength: 1,
    maxLength: 255,
    // This machine only: anonymous mode is for local use; a server sets its interface (0.0.0.0) on purpose.
    default: '127.0.0.1',
    description: 'an interface address or host name, e.g. 127.0.0.1 (this machine) or 0.0.0.0 (every interface)',
  }),
  CORS_ORIGINS: Type.String({
    default: '',
    description: 'a comma-separated list of origins like https://app.example.com, or *',
  }),
  LOG_LEVEL: Type.Union(
    LOG_LEVELS.map((level) => Type.Literal(level)),
    { default: 'info', description: `one of ${LOG_LEVELS.join(', ')}` },
  ),
  AUTH_MODE: Type.Union([Type.Literal('anonymous'), Type.Literal('jwt')], {
    default: 'anonymous',
    description: 'anonymous or jwt',
  }),
  JWT_SECRET: Type.Optional(
    Type.String({ description: `an HS256 secret of at least ${MIN_JWT_SECRET_LENGTH} characters` }),
  ),
  JWT_ISSUER: Type.Optional(Type.String({ minLength: 1, maxLength: 512, description: 'the expected `iss` claim' })),
  JWT_AUDIENCE: Type.Optional(Type.String({ minLength: 1, maxLength: 512, description: 'the expected `aud` claim' })),
  TRUST_PROXY: Type.String({
    default: '',
    maxLength: 4096,
    description:
      'a comma-separated list of proxy addresses or CIDR ranges (or loopback, linklocal, uniquelocal) whose X-Forwarded-For is believed; empty: none',
  }),
  JWT_REQUIRE_EXP: Type.Boolean({
    default: true,
    description: 'true or false (refuse tokens without an exp claim)',
  }),
  AUTH_FAILURE_LIMIT: Type.Integer({
    minimum: 1,
    maximum: 100_000,
    default: 20,
    description: 'an integer 1-100000 (failed authentications per client address per AUTH_FAILURE_WINDOW_MS)',
  }),
  AUTH_FAILURE_WINDOW_MS: Type.Integer({
    minimum: 1000,
    maximum: 86_400_000,
    default: 60_000,
    description: 'an integer 1000-86400000 (milliseconds)',
  }),
  TRANSPORTS: Type.String({
    pattern: '^(polling|websocket)(,(polling|websocket))?$',
    default: 'polling,websocket',
    description: 'polling,websocket or polling or websocket',
  }),
  PER_MESSAGE_DEFLATE: Type.Boolean({ default: false, description: 'true or false' }),
  MAX_HTTP_BUFFER_SIZE: Type.Integer({
    minimum: 1024,
    maximum: 100_000_000,
    default: 100_000,
    description: 'bytes, an integer 1024-100000000',
  }),
  MAX_MESSAGE_LENGTH: Type.Integer({
    minimum: 1,
    maximum: LIMITS.messageText.maxLength,
    default: LIMITS.messageText.maxLength,
    description: `an integer 1-${LIMITS.messageText.maxLength}`,
  }),
  MAX_ROOMS_PER_SOCKET: Type.Integer({ minimum: 1, maximum: 10_000, default: 50, description: 'an integer 1-10000' }),
  MAX_SOCKETS_PER_USER: Type.Integer({
    minimum: 0,
    maximum: 100_000,
    default: 0,
    description: 'an integer 0-100000 (0 = unlimited)',
  }),
  RATE_LIMIT_BURST: Type.Integer({
    minimum: 1,
    maximum: 100_000,
    default: 30,
    description: 'an integer 1-100000 (events)',
  }),
  RATE_LIMIT_PER_SECOND: Type.Number({
    exclusiveMinimum: 0,
    maximum: 100_000,
    default: 10,
    description: 'a number > 0 and <= 100000 (events per second)',
  }),
  HISTORY_PER_ROOM: Type.Integer({
    minimum: 1,
    maximum: 1_000_000,
    default: 1000,
    description: 'an integer 1-1000000 (messages kept per room)',
  }),
  DRAIN_TIMEOUT_MS: Type.Integer({
    minimum: 0,
    maximum: 600_000,
    default: 25_000,
    description: 'an integer 0-600000 (milliseconds)',
  }),
  METRICS_PORT: Type.Optional(
    Type.Integer({
      minimum: 0,
      maximum: 65535,
      description: 'an integer port 0-65535 for /metrics alone (then not served on PORT; 0 picks a free port)',
    }),
  ),
  METRICS_TOKEN: Type.Optional(
    Type.String({
      minLength: 16,
      maxLength: 256,
      pattern: '^[!-~]+$',
      description: 'a bearer token of 16-256 printable characters that /metrics requires',
    }),
  ),
  HTTP_REQUEST_TIMEOUT_MS: Type.Integer({
    minimum: 100,
    maximum: 600_000,
    default: 30_000,
    description: 'an integer 100-600000 (milliseconds for a whole request, headers and body, to arrive)',
  }),
  HTTP_HEADERS_TIMEOUT_MS: Type.Integer({
    minimum: 100,
    maximum: 600_000,
    default: 10_000,
    description: 'an integer 100-600000 (milliseconds for request headers to arrive), at most HTTP_REQUEST_TIMEOUT_MS',
  }),
  SSE_HEARTBEAT_MS: Type.Integer({
    minimum: 10,
    maximum: 3_600_000,
    default: 15_000,
    description: 'an integer 10-3600000 (milliseconds between SSE comment heartbeats)',
  }),
  SSE_RETRY_MS: Type.Integer({
    minimum: 0,
    maximum: 600_000,
    default: 2000,
    description: 'an integer 0-600000 (the SSE retry: hint, milliseconds)',
  }),
  SSE_MAX_STREAMS: Type.Integer({
    minimum: 1,
    maximum: 1_000_000,
    default: 10_000,
    description: 'an integer 1-1000000 (SSE streams per node)',
  }),
  SSE_MAX_STREAMS_PER_CLIENT: Type.Integer({
    minimum: 0,
    maximum: 1_000_000,
    default: 0,
    description: 'an integer 0-1000000 (SSE streams per user, or per IP when anonymous; 0 = unlimited)',
  }),
  SSE_BUFFER_BYTES: Type.Integer({
    minimum: 1024,
    maximum: 64 * 1024 * 1024,
    default: 256 * 1024,
    description: 'an integer 1024-67108864 (bytes queued per SSE stream before it is closed as too slow)',
  }),
  SSE_BUFFER_EVENTS: Type.Integer({
    minimum: 1,
    maximum: 1_000_000,
    default: 1000,
    description: 'an integer 1-1000000 (events queued per SSE stream before it is closed as too slow)',
  }),
  LARGE_ROOM_THRESHOLD: Type.Integer({
    minimum: 1,
    maximum: 1_000_000,
    default: 250,
    description: 'an integer 1-1000000 (members above which a room gets counts instead of member lists)',
  }),
  PRESENCE_INTERVAL_MS: Type.Integer({
    minimum: 10,
    maximum: 60_000,
    default: 250,
    description: 'an integer 10-60000 (milliseconds over which joins and leaves are coalesced into one event)',
  }),
  SOCKET_BUFFER_BYTES: Type.Integer({
    minimum: 1024,
    maximum: 256 * 1024 * 1024,
    default: 1024 * 1024,
    description: 'an integer 1024-268435456 (bytes queued per socket before it is closed as too slow)',
  }),
  SOCKET_BUFFER_PACKETS: Type.Integer({
    minimum: 1,
    maximum: 1_000_000,
    default: 1000,
    description: 'an integer 1-1000000 (packets queued per socket before it is closed as too slow)',
  }),
  PRIVATE_ROOM_PREFIX: Type.String({
    pattern: '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,31}$',
    default: 'private:',
    description: 'a room-name prefix of 1-32 characters (rooms <prefix><userId>[:...] belong to that user)',
  }),
  API_KEYS: Type.Optional(
    Type.String({
      pattern: `^${API_KEY_PATTERN}(,${API_KEY_PATTERN})*$`,
      maxLength: 65_536,
      description: `a comma-separated list of API keys of ${LIMITS.apiKey.minLength}-${LIMITS.apiKey.maxLength} printable characters each`,
    }),
  ),
  PUBLISH_RATE_LIMIT_MAX: Type.Integer({
    minimum: 1,
    maximum: 1_000_000,
    default: 600,
    description: 'an integer 1-1000000 (HTTP publishes per key per window)',
  }),
  PUBLISH_RATE_LIMIT_WINDOW_MS: Type.Integer({
    minimum: 100,
    maximum: 3_600_000,
    default: 60_000,
    description: 'an integer 100-3600000 (milliseconds)',
  }),
  NODE_ID: Type.Optional(
    Type.String({
      pattern: NODE_ID_PATTERN,
      maxLength: 63,
      description: 'a node name of 1-63 characters a-z 0-9 - (default: host name and pid)',
    }),
  ),
  MONGODB_URI: Type.Optional(
    Type.String({
      pattern: '^mongodb(\\+srv)?://',
      maxLength: 4096,
      description: 'a mongodb:// or mongodb+srv:// connection string',
    }),
  ),
  MONGODB_DB: Type.String({
    pattern: '^[A-Za-z0-9_-]{1,63}$',
    default: 'switchyard',
    description: 'a database name of 1-63 characters A-Z a-z 0-9 _ -',
  }),
  MAX_DISCONNECTION_DURATION_MS: Type.Optional(
    Type.Integer({
      minimum: 0,
      maximum: 86_400_000,
      description: 'an integer 0-86400000 (milliseconds; 0 turns connection state recovery off)',
    }),
  ),
  CLUSTER_LIMITS: Type.Boolean({
    default: true,
    description:
      'true or false (MongoDB mode: count MAX_SOCKETS_PER_USER and the publish rate limit across the cluster)',
  }),
  ADAPTER_HEARTBEAT_INTERVAL_MS: Type.Integer({
    minimum: 10,
    maximum: 600_000,
    default: 5000,
    description: 'an integer 10-600000 (milliseconds)',
  }),
  ADAPTER_HEARTBEAT_TIMEOUT_MS: Type.Integer({
    minimum: 20,
    maximum: 3_600_000,
    default: 10_000,
    description: 'an integer 20-3600000 (milliseconds), larger than ADAPTER_HEARTBEAT_INTERVAL_MS',
  }),
  ADAPTER_NO_PRIMARY_GRACE_MS: Type.Integer({
    minimum: 0,
    maximum: 3_600_000,
    default: 30_000,
    description: 'an integer 0-3600000 (milliseconds a node stays ready while MongoDB has no primary)',
  }),
  GATEWAY_WORKERS: Type.Integer({
    minimum: 1,
    maximum: 256,
    default: 1,
    description: 'an integer 1-256 (worker processes)',
  }),
  // Any load balancer (cluster/forwarding): requests of a session that reach another node are forwarded.
  CLUSTER_SECRET: Type.Optional(
    Type.String({
      minLength: MIN_CLUSTER_SECRET_LENGTH,
      maxLength: 1024,
      description: `a secret of at least ${MIN_CLUSTER_SECRET_LENGTH} characters shared by every node`,
    }),
  ),
  INTERNAL_URL: Type.Optional(
    Type.String({
      pattern: '^https?://[^/?#@\\s]+/?$',
      maxLength: 512,
      description: 'http(s)://host:port where the other nodes reach this one (no path)',
    }),
  ),
  FORWARD_TIMEOUT_MS: Type.Integer({
    minimum: 100,
    maximum: 120_000,
    default: 10_000,
    description: 'an integer 100-120000 (milliseconds; long-polls get the ping interval on top)',
  }),
  FORWARD_MAX_IN_FLIGHT: Type.Integer({
    minimum: 1,
    maximum: 1_000_000,
    default: 10_000,
    description: 'an integer 1-1000000 (requests this node forwards at once)',
  }),
  // Reconnect storms (admission/): bounds per node.
  HANDSHAKE_MAX_CONCURRENT: Type.Integer({
    minimum: 1,
    maximum: 1_000_000,
    default: 256,
    description: 'an integer 1-1000000 (handshakes in progress at once)',
  }),
  HANDSHAKE_RETRY_AFTER_S: Type.Integer({
    minimum: 1,
    maximum: 3600,
    default: 2,
    description: 'an integer 1-3600 (seconds, the Retry-After of a refused handshake)',
  }),
  JWT_VERIFY_MAX_CONCURRENT: Type.Integer({
    minimum: 1,
    maximum: 100_000,
    default: 32,
    description: 'an integer 1-100000 (JWT verifications at once)',
  }),
  RESTORE_MAX_CONCURRENT: Type.Integer({
    minimum: 1,
    maximum: 100_000,
    default: 32,
    description: 'an integer 1-100000 (session restores at once)',
  }),
  RESTORE_RATE_PER_SECOND: Type.Integer({
    minimum: 1,
    maximum: 1_000_000,
    default: 100,
    description: 'an integer 1-1000000 (session restores started per second)',
  }),
});
type Env = Static<typeof EnvSchema>;

export type AuthConfig =
  | { readonly mode: 'anonymous' }
  | {
      readonly mode: 'jwt';
      readonly secret: string;
      readonly issuer?: string;
      readonly audience?: string;
      /** Refuse tokens without `exp` (JWT_REQUIRE_EXP, default true): a token that never expires is never closed. */
      readonly requireExp: boolean;
    };

export interface GatewayConfig {
  readonly port: number;
  readonly host: string;
  /** Empty: same-origin only. `['*']`: any origin. */
  readonly corsOrigins: readonly string[];
  readonly logLevel: LogLevel;
  readonly auth: AuthConfig;
  /** Proxies whose X-Forwarded-For is believed (addresses, CIDR ranges, `loopback`...); empty: none. */
  readonly trustProxy: readonly string[];
  /** Failed authentications an address may have per window before it waits (sockets, SSE, HTTP publish). */
  readonly authFailures: { readonly limit: number; readonly windowMs: number };
  readonly transports: readonly TransportName[];
  readonly perMessageDeflate: boolean;
  readonly maxHttpBufferSize: number;
  readonly maxMessageLength: number;
  readonly maxRoomsPerSocket: number;
  /** 0 = unlimited. Counted per gateway node. */
  readonly maxSocketsPerUser: number;
  readonly rateLimit: { readonly burst: number; readonly perSecond: number };
  readonly historyPerRoom: number;
  readonly drainTimeoutMs: number;
  /** Where and to whom `/metrics` is served. */
  readonly metrics: MetricsConfig;
  /** How long the HTTP server waits for clients: see HttpTimeouts. */
  readonly httpTimeouts: HttpTimeouts;
  /** Server-Sent Events streams (`GET /v1/rooms/:room/events`). */
  readonly sse: SseConfig;
  /** The HTTP publish API (`POST /v1/rooms/:room/messages`). */
  readonly publish: PublishConfig;
  /** Rooms named `<prefix><userId>` or `<prefix><userId>:...` are only for that user. */
  readonly privateRoomPrefix: string;
  /** Presence: member lists or counts, coalesced per interval. */
  readonly presence: PresenceConfig;
  /** What may wait to be written to one socket before it is closed with SLOW_CONSUMER. */
  readonly socketBuffer: { readonly bytes: number; readonly packets: number };
  /** This node's name: suffix of its Engine.IO session ids (sticky routing) and in its logs. */
  readonly nodeId: string;
  /** Connection state recovery window; 0 = off. */
  readonly maxDisconnectionDurationMs: number;
  /** Set when MONGODB_URI is: history in MongoDB and the change-stream adapter between nodes. */
  readonly mongo?: MongoConfig;
  /** Worker processes (`node:cluster`); 1 = this process serves. */
  readonly workers: number;
  /** Set when CLUSTER_SECRET is: a request of a session owned by another node is forwarded there. */
  readonly forwarding?: ForwardingConfig;
  /** Bounds that keep a reconnect storm from overwhelming a node. */
  readonly admission: AdmissionConfig;
}

export interface ForwardingConfig {
  /** Signs (HMAC-SHA256) the requests one node forwards to another; the same on every node. */
  readonly secret: string;
  /** Where the other nodes reach this one; unset: HOST (or the host name) and the port bound. */
  readonly internalUrl?: string;
  readonly timeoutMs: number;
  readonly maxInFlight: number;
}

export interface AdmissionConfig {
  /** Handshakes in progress at once (Engine.IO open to Socket.IO connect); beyond: 503 OVERLOADED. */
  readonly maxHandshakes: number;
  readonly retryAfterSeconds: number;
  readonly maxJwtVerifications: number;
  readonly maxRestores: number;
  readonly restoresPerSecond: number;
}

/**
 * Bounds on how long a client may take to send a request (Node's HTTP server checks them). They
 * never cut what is meant to last: a long-poll GET, an SSE stream or a WebSocket upgrade is a
 * request received in full, then held. A connection that sends nothing is answered 408 after the
 * headers deadline; an idle kept-alive one is closed after 72 s (fastify's keepAliveTimeout).
 */
export interface HttpTimeouts {
  /** A whole request, headers and body, must arrive within this (408 REQUEST_TIMEOUT, connection closed). */
  readonly requestMs: number;
  /** Request headers must arrive within this. */
  readonly headersMs: number;
}

export interface MetricsConfig {
  /** Serve `/metrics` on this port (on HOST) instead of PORT; undefined: on PORT. */
  readonly port?: number;
  /** SHA-256 (hex) of the bearer token `/metrics` requires; undefined: open to anyone who reaches it. */
  readonly tokenSha256?: string;
}

export interface SseConfig {
  readonly heartbeatMs: number;
  readonly retryMs: number;
  readonly maxStreams: number;
  /** Per user id (per IP when anonymous); 0 = unlimited. */
  readonly maxStreamsPerClient: number;
  readonly bufferBytes: number;
  readonly bufferEvents: number;
}

export interface PresenceConfig {
  /** A room with more distinct members than this is large: counts, not member lists. */
  readonly largeRoomThreshold: number;
  readonly intervalMs: number;
}

export interface PublishConfig {
  /** SHA-256 (hex) of each API key: the keys themselves are never kept. */
  readonly apiKeySha256: readonly string[];
  readonly rateLimit: { readonly max: number; readonly windowMs: number };
}

export interface MongoConfig {
  readonly uri: string;
  readonly db: string;
  /** MAX_SOCKETS_PER_USER and the publish rate limit counted across the cluster (CLUSTER_LIMITS), else per node. */
  readonly clusterLimits: boolean;
  readonly heartbeatIntervalMs: number;
  readonly heartbeatTimeoutMs: number;
  /** How long a node stays ready (`/readyz` 200, degraded) while MongoDB has no primary. */
  readonly noPrimaryGraceMs: number;
}

export interface ConfigProblem {
  /** The environment variable. */
  name: string;
  expected: string;
  /** What was given (`undefined` when unset; secrets are masked). */
  received: string | undefined;
}

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  readonly problems: readonly ConfigProblem[];

  constructor(problems: ConfigProblem[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  ${formatProblem(p)}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = Object.freeze(problems.map((p) => Object.freeze({ ...p })));
  }
}

export function formatProblem(problem: ConfigProblem): string {
  const received =
    problem.received === undefined
      ? 'it is not set'
      : SECRET_VARIABLES.has(problem.name)
        ? `got ${problem.received}`
        : `got ${JSON.stringify(problem.received)}`;
  return `${problem.name}: expected ${problem.expected}, ${received}`;
}

const VARIABLE_NAMES = Object.keys(EnvSchema.properties) as (keyof Env)[];
// A connection string may carry a password.
const SECRET_VARIABLES = new Set<string>(['JWT_SECRET', 'MONGODB_URI', 'API_KEYS', 'METRICS_TOKEN', 'CLUSTER_SECRET']);

/** Reads and validates the gateway configuration. Throws `ConfigError` listing every problem. */
export function loadConfig(env: Record<string, string | undefined>): GatewayConfig {
  const raw = pickVariables(env);
  const problems: ConfigProblem[] = [];
  let parsed: Env | undefined;
  try {
    // A deep copy: env-schema mutates the schema it is given (additionalProperties).
    parsed = envSchema<Env>({
      schema: structuredClone(EnvSchema) as TSchema,
      data: { ...raw },
      env: false,
      dotenv: false,
    });
  } catch (error) {
    problems.push(...schemaProblems(error, raw));
  }
  problems.push(...crossFieldProblems(raw, new Set(problems.map((p) => p.name))));
  if (problems.length > 0 || parsed === undefined) throw new ConfigError(problems);
  return toConfig(parsed);
}

/** Only our variables, and an empty value counts as unset (compose files often pass `VAR=`). */
function pickVariables(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of VARIABLE_NAMES) {
    const value = env[name];
    if (value !== undefined && value.trim() !== '') out[name] = value.trim();
  }
  return out;
}

function received(name: string, raw: Record<string, string>): string | undefined {
  const value = raw[name];
  if (value === undefined || !SECRET_VARIABLES.has(name)) return value;
  return `<hidden, ${value.length} characters>`;
}

function expectedFor(name: string): string {
  const schema = (EnvSchema.properties as Record<string, { description?: string } | undefined>)[name];
  return schema?.description ?? 'a valid value';
}

interface AjvIssue {
  instancePath: string;
  params?: { missingProperty?: string };
}

function schemaProblems(error: unknown, raw: Record<string, string>): ConfigProblem[] {
  const issues = (error as { errors?: AjvIssue[] }).errors;
  if (!Array.isArray(issues)) throw error;
  // A union yields several issues for one variable: report each variable once.
  const names = new Set<string>();
  for (const issue of issues) {
    const name = issue.instancePath.replace(/^\//, '').split('/')[0] || issue.params?.missingProperty;
    if (name) names.add(name);
  }
  return [...names].map((name) => ({ name, expected: expectedFor(name), received: received(name, raw) }));
}

function crossFieldProblems(raw: Record<string, string>, alreadyReported: Set<string>): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const secret = raw.JWT_SECRET;
  if (
    raw.AUTH_MODE === 'jwt' &&
    !alreadyReported.has('JWT_SECRET') &&
    (secret === undefined || secret.length < MIN_JWT_SECRET_LENGTH)
  ) {
    problems.push({
      name: 'JWT_SECRET',
      expected: `an HS256 secret of at least ${MIN_JWT_SECRET_LENGTH} characters (required when AUTH_MODE=jwt)`,
      received: received('JWT_SECRET', raw),
    });
  }
  if (
    raw.CORS_ORIGINS !== undefined &&
    !alreadyReported.has('CORS_ORIGINS') &&
    parseCorsOrigins(raw.CORS_ORIGINS) === undefined
  ) {
    problems.push({ name: 'CORS_ORIGINS', expected: expectedFor('CORS_ORIGINS'), received: raw.CORS_ORIGINS });
  }
  if (
    raw.TRUST_PROXY !== undefined &&
    !alreadyReported.has('TRUST_PROXY') &&
    !isValidTrustList(parseList(raw.TRUST_PROXY))
  ) {
    problems.push({ name: 'TRUST_PROXY', expected: expectedFor('TRUST_PROXY'), received: raw.TRUST_PROXY });
  }
  if (raw.METRICS_PORT !== undefined && Number(raw.GATEWAY_WORKERS ?? 1) > 1) {
    problems.push({
      name: 'METRICS_PORT',
      expected: 'to be unset when GATEWAY_WORKERS > 1 (each worker has its own metrics on PORT: use METRICS_TOKEN)',
      received: raw.METRICS_PORT,
    });
  }
  const requestTimeout = Number(raw.HTTP_REQUEST_TIMEOUT_MS ?? 30_000);
  const headersTimeout = Number(raw.HTTP_HEADERS_TIMEOUT_MS ?? 10_000);
  if (
    !alreadyReported.has('HTTP_HEADERS_TIMEOUT_MS') &&
    !alreadyReported.has('HTTP_REQUEST_TIMEOUT_MS') &&
    headersTimeout > requestTimeout
  ) {
    problems.push({
      name: 'HTTP_HEADERS_TIMEOUT_MS',
      expected: expectedFor('HTTP_HEADERS_TIMEOUT_MS'),
      received: raw.HTTP_HEADERS_TIMEOUT_MS ?? String(headersTimeout),
    });
  }
  const interval = Number(raw.ADAPTER_HEARTBEAT_INTERVAL_MS ?? 5000);
  const timeout = Number(raw.ADAPTER_HEARTBEAT_TIMEOUT_MS ?? 10_000);
  if (
    !alreadyReported.has('ADAPTER_HEARTBEAT_TIMEOUT_MS') &&
    !alreadyReported.has('ADAPTER_HEARTBEAT_INTERVAL_MS') &&
    timeout <= interval
  ) {
    problems.push({
      name: 'ADAPTER_HEARTBEAT_TIMEOUT_MS',
      expected: expectedFor('ADAPTER_HEARTBEAT_TIMEOUT_MS'),
      received: raw.ADAPTER_HEARTBEAT_TIMEOUT_MS,
    });
  }
  if (raw.INTERNAL_URL !== undefined && raw.CLUSTER_SECRET === undefined && !alreadyReported.has('CLUSTER_SECRET')) {
    problems.push({
      name: 'CLUSTER_SECRET',
      expected: `${expectedFor('CLUSTER_SECRET')} (INTERNAL_URL is set: forwarding needs it)`,
      received: undefined,
    });
  }
  return problems;
}

/** Whether TRUST_PROXY's entries compile (proxy-addr throws on a malformed address or range). */
function isValidTrustList(trusted: string[]): boolean {
  try {
    proxyAddr.compile(trusted);
    return true;
  } catch {
    return false;
  }
}

function parseList(value: string): string[] {
  return value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
}

/** Host name and pid, folded into NODE_ID's alphabet: unique per process, readable in logs. */
export function defaultNodeId(host: string = hostname(), pid: number = process.pid): string {
  const name = host
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40);
  return `${name || 'node'}-${pid}`;
}

/** `undefined` when any entry is not an origin (scheme://host[:port], no path) or `*` is mixed with others. */
function parseCorsOrigins(value: string): string[] | undefined {
  const entries = value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  if (entries.includes('*')) return entries.length === 1 ? ['*'] : undefined;
  for (const entry of entries) {
    let url: URL;
    try {
      url = new URL(entry);
    } catch {
      return undefined;
    }
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.origin !== entry.replace(/\/$/, ''))
      return undefined;
  }
  return entries.map((entry) => entry.replace(/\/$/, ''));
}

function toConfig(env: Env): GatewayConfig {
  const auth: AuthConfig =
    env.AUTH_MODE === 'jwt'
      ? {
          mode: 'jwt',
          secret: env.JWT_SECRET ?? '',
          requireExp: env.JWT_REQUIRE_EXP,
          ...(env.JWT_ISSUER === undefined ? {} : { issuer: env.JWT_ISSUER }),
          ...(env.JWT_AUDIENCE === undefined ? {} : { audience: env.JWT_AUDIENCE }),
        }
      : { mode: 'anonymous' };
  const transports = [...new Set(env.TRANSPORTS.split(','))] as TransportName[];
  return deepFreeze({
    port: env.PORT,
    host: env.HOST,
    corsOrigins: parseCorsOrigins(env.CORS_ORIGINS) ?? [],
    logLevel: env.LOG_LEVEL,
    auth,
    trustProxy: parseList(env.TRUST_PROXY),
    authFailures: { limit: env.AUTH_FAILURE_LIMIT, windowMs: env.AUTH_FAILURE_WINDOW_MS },
    transports,
    perMessageDeflate: env.PER_MESSAGE_DEFLATE,
    maxHttpBufferSize: env.MAX_HTTP_BUFFER_SIZE,
    maxMessageLength: env.MAX_MESSAGE_LENGTH,
    maxRoomsPerSocket: env.MAX_ROOMS_PER_SOCKET,
    maxSocketsPerUser: env.MAX_SOCKETS_PER_USER,
    rateLimit: { burst: env.RATE_LIMIT_BURST, perSecond: env.RATE_LIMIT_PER_SECOND },
    historyPerRoom: env.HISTORY_PER_ROOM,
    drainTimeoutMs: env.DRAIN_TIMEOUT_MS,
    metrics: {
      ...(env.METRICS_PORT === undefined ? {} : { port: env.METRICS_PORT }),
      ...(env.METRICS_TOKEN === undefined
        ? {}
        : { tokenSha256: createHash('sha256').update(env.METRICS_TOKEN).digest('hex') }),
    },
    httpTimeouts: {
      requestMs: env.HTTP_REQUEST_TIMEOUT_MS,
      headersMs: env.HTTP_HEADERS_TIMEOUT_MS,
    },
    sse: {
      heartbeatMs: env.SSE_HEARTBEAT_MS,
      retryMs: env.SSE_RETRY_MS,
      maxStreams: env.SSE_MAX_STREAMS,
      maxStreamsPerClient: env.SSE_MAX_STREAMS_PER_CLIENT,
      bufferBytes: env.SSE_BUFFER_BYTES,
      bufferEvents: env.SSE_BUFFER_EVENTS,
    },
    publish: {
      apiKeySha256: (env.API_KEYS ?? '')
        .split(',')
        .filter((key) => key !== '')
        .map((key) => createHash('sha256').update(key).digest('hex')),
      rateLimit: { max: env.PUBLISH_RATE_LIMIT_MAX, windowMs: env.PUBLISH_RATE_LIMIT_WINDOW_MS },
    },
    privateRoomPrefix: env.PRIVATE_ROOM_PREFIX,
    presence: { largeRoomThreshold: env.LARGE_ROOM_THRESHOLD, intervalMs: env.PRESENCE_INTERVAL_MS },
    socketBuffer: { bytes: env.SOCKET_BUFFER_BYTES, packets: env.SOCKET_BUFFER_PACKETS },
    nodeId: env.NODE_ID ?? defaultNodeId(),
    // On by default where a client may come back to another node (MongoDB mode).
    maxDisconnectionDurationMs:
      env.MAX_DISCONNECTION_DURATION_MS ?? (env.MONGODB_URI === undefined ? 0 : DEFAULT_MAX_DISCONNECTION_DURATION_MS),
    ...(env.MONGODB_URI === undefined
      ? {}
      : {
          mongo: {
            uri: env.MONGODB_URI,
            db: env.MONGODB_DB,
            clusterLimits: env.CLUSTER_LIMITS,
            heartbeatIntervalMs: env.ADAPTER_HEARTBEAT_INTERVAL_MS,
            heartbeatTimeoutMs: env.ADAPTER_HEARTBEAT_TIMEOUT_MS,
            noPrimaryGraceMs: env.ADAPTER_NO_PRIMARY_GRACE_MS,
          },
        }),
    workers: env.GATEWAY_WORKERS,
    ...(env.CLUSTER_SECRET === undefined
      ? {}
      : {
          forwarding: {
            secret: env.CLUSTER_SECRET,
            ...(env.INTERNAL_URL === undefined ? {} : { internalUrl: env.INTERNAL_URL.replace(/\/$/, '') }),
            timeoutMs: env.FORWARD_TIMEOUT_MS,
            maxInFlight: env.FORWARD_MAX_IN_FLIGHT,
          },
        }),
    admission: {
      maxHandshakes: env.HANDSHAKE_MAX_CONCURRENT,
      retryAfterSeconds: env.HANDSHAKE_RETRY_AFTER_S,
      maxJwtVerifications: env.JWT_VERIFY_MAX_CONCURRENT,
      maxRestores: env.RESTORE_MAX_CONCURRENT,
      restoresPerSecond: env.RESTORE_RATE_PER_SECOND,
    },
  });
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
