/** How the orchestrator configures a bare server child: one JSON env var, read once at start. */
export interface BareServerConfig {
  /** Which adapter fans out between nodes: `memory` is socket.io's default, single node. */
  adapter: 'memory' | 'redis' | 'mongo-official' | 'mongo-switchyard';
  transports: ('polling' | 'websocket')[];
  redisUrl?: string;
  mongoUri?: string;
  /** The MongoDB collection the adapters share. */
  mongoCollection?: string;
  /** Connection state recovery on (socket.io's defaults). */
  recovery?: boolean;
}

export const SERVER_CONFIG_ENV = 'BENCH_SERVER_CONFIG';

export function readServerConfig(): BareServerConfig {
  const raw = process.env[SERVER_CONFIG_ENV];
  const parsed = raw ? (JSON.parse(raw) as Partial<BareServerConfig>) : {};
  return { adapter: 'memory', transports: ['polling', 'websocket'], ...parsed };
}
