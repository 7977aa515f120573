import type { BaseCommands, CallMessage, CommandMap, ProcessStats, ReadyMessage, ResultMessage } from './ipc.js';

/** Handlers for a child's own commands (the base commands are built in). */
export type CommandHandlers<C extends CommandMap<C>> = {
  [K in Exclude<keyof C, keyof BaseCommands>]: (argument: C[K]['argument']) => C[K]['result'] | Promise<C[K]['result']>;
};

type AnyHandler = (argument: unknown) => unknown;

function forcedGcStats(): ProcessStats {
  const gc = (globalThis as { gc?: () => void }).gc;
  // Two passes: the first can leave objects with finalizers for the second.
  if (gc) {
    gc();
    gc();
  }
  const memory = process.memoryUsage();
  const cpu = process.cpuUsage();
  return {
    heapUsed: memory.heapUsed,
    rss: memory.rss,
    cpuUserMicros: cpu.user,
    cpuSystemMicros: cpu.system,
    gcForced: Boolean(gc),
  };
}

function describe(error: unknown): { code: string; message: string } {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    // A plain refusal reads best as its message; a bug (TypeError...) needs its stack.
    const plain = error.name === 'Error' || error.name === 'BenchError';
    return {
      code: typeof code === 'string' ? code : 'ERROR',
      message: plain ? error.message : (error.stack ?? error.message),
    };
  }
  return { code: 'ERROR', message: String(error) };
}

/**
 * Runs inside a benchmark child: answers the orchestrator's calls with the given handlers (plus `stats`
 * and `exit`), announces readiness with `info`, and exits when the orchestrator goes away so no server
 * outlives a crashed run.
 */
export function serveCommands<C extends CommandMap<C>>(
  handlers: CommandHandlers<C>,
  info: Record<string, unknown> = {},
): void {
  if (!process.send) throw new Error('a benchmark child must be started with an IPC channel');
  const send = (message: ResultMessage | ReadyMessage) => {
    if (process.connected) process.send!(message);
  };
  const all: Record<string, AnyHandler> = {
    stats: () => forcedGcStats(),
    memory: () => {
      const { heapUsed, rss } = process.memoryUsage();
      return { heapUsed, rss };
    },
    // Cheap, no GC: read at the edges of a measured window.
    cpu: () => {
      const used = process.cpuUsage();
      return { cpuMicros: used.user + used.system, wallMs: performance.now() };
    },
    exit: () => {
      setTimeout(() => process.exit(0), 10);
      return true;
    },
    ...(handlers as Record<string, AnyHandler>),
  };
  process.on('message', (raw: unknown) => {
    const message = raw as CallMessage;
    if (message?.kind !== 'call') return;
    const handler = all[message.command];
    if (!handler) {
      send({
        kind: 'result',
        id: message.id,
        ok: false,
        error: { code: 'UNKNOWN_COMMAND', message: `no command ${message.command}` },
      });
      return;
    }
    Promise.resolve()
      .then(() => handler(message.argument))
      .then(
        (value) => send({ kind: 'result', id: message.id, ok: true, value }),
        (error: unknown) => send({ kind: 'result', id: message.id, ok: false, error: describe(error) }),
      );
  });
  process.on('disconnect', () => process.exit(0));
  send({ kind: 'ready', info });
}
