/**
 * A pino-compatible logger. Only these methods are used; `child` and `isLevelEnabled` are used when
 * present (pino has both), so context is bound once and `debug` tracing costs nothing when it is off.
 */
export interface AdapterLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  child?(bindings: Record<string, unknown>): AdapterLogger;
  isLevelEnabled?(level: string): boolean;
}

const noop = () => undefined;

const silent: AdapterLogger = {
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  child: () => silent,
  isLevelEnabled: () => false,
};

/** A logger with `{ uid, component }` (uid: the adapter's node id) bound, and a cheap check before building a debug line. */
export interface BoundLogger extends AdapterLogger {
  readonly tracing: boolean;
}

/**
 * `logger.child(bindings)` when the logger has `child` (pino); otherwise a wrapper that adds the
 * bindings to every line, so no call site repeats them.
 */
export function bindLogger(logger: AdapterLogger | undefined, bindings: Record<string, unknown>): BoundLogger {
  const base = logger ?? silent;
  const bound: AdapterLogger =
    typeof base.child === 'function'
      ? base.child(bindings)
      : {
          debug: (obj, msg) => base.debug({ ...bindings, ...obj }, msg),
          info: (obj, msg) => base.info({ ...bindings, ...obj }, msg),
          warn: (obj, msg) => base.warn({ ...bindings, ...obj }, msg),
          error: (obj, msg) => base.error({ ...bindings, ...obj }, msg),
          ...(base.isLevelEnabled ? { isLevelEnabled: (level: string) => base.isLevelEnabled!(level) } : {}),
        };
  return {
    debug: (obj, msg) => bound.debug(obj, msg),
    info: (obj, msg) => bound.info(obj, msg),
    warn: (obj, msg) => bound.warn(obj, msg),
    error: (obj, msg) => bound.error(obj, msg),
    get tracing() {
      return logger !== undefined && (bound.isLevelEnabled?.('debug') ?? true);
    },
  };
}

/** The one-line form of an error for a log field (causes are driver errors with long stacks). */
export function errorMessage(error: unknown): string {
  if (typeof error === 'object' && error !== null && typeof (error as { message?: unknown }).message === 'string') {
    return (error as { message: string }).message;
  }
  return String(error);
}
