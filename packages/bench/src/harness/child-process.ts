import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BenchError } from './errors.js';
import type { BaseCommands, CallMessage, ChildMessage, CommandMap, ProcessStats } from './ipc.js';
import { repoRoot } from './paths.js';

export interface ChildOptions {
  /** Names the log file and error messages, e.g. `gateway` or `load`. */
  name: string;
  /** Absolute path of the TypeScript entry (run with tsx). */
  entry: string;
  /** A `taskset -c` core list, or undefined for no pinning. */
  core: string | undefined;
  env?: Record<string, string>;
  logDir: string;
  readyTimeoutMs?: number;
}

/** Every child still running, whatever its commands: stopped when a scenario ends, killed on exit. */
const live = new Set<{ stop(): Promise<void>; kill(): void }>();
let counter = 0;

/** A benchmark child process (server or load generator) driven over IPC. */
export class ChildHandle<C extends CommandMap<C> & BaseCommands = BaseCommands> {
  readonly name: string;
  readonly logFile: string;
  info: Record<string, unknown> = {};
  private readonly child: ChildProcess;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  private nextId = 1;
  private exitError: Error | undefined;
  private readonly exited: Promise<void>;

  private constructor(child: ChildProcess, name: string, logFile: string) {
    this.child = child;
    this.name = name;
    this.logFile = logFile;
    this.exited = new Promise((resolve) => {
      const gone = (error: BenchError) => {
        if (this.exitError) return;
        live.delete(this);
        this.exitError = error;
        for (const { reject } of this.pending.values()) reject(error);
        this.pending.clear();
        resolve();
      };
      child.once('exit', (code, signal) =>
        gone(new BenchError('CHILD_FAILED', `${name} exited (code ${code}, signal ${signal})${this.logTail()}`)),
      );
      // Spawning itself failed (e.g. no `taskset`): there will be no 'exit'.
      child.once('error', (error) => gone(new BenchError('CHILD_FAILED', `${name} could not run: ${error.message}`)));
    });
    child.on('message', (raw: unknown) => {
      const message = raw as ChildMessage;
      if (message.kind !== 'result') return;
      const waiter = this.pending.get(message.id);
      if (!waiter) return;
      this.pending.delete(message.id);
      if (message.ok) waiter.resolve(message.value);
      else waiter.reject(new BenchError('CHILD_FAILED', `${name}: ${message.error?.code}: ${message.error?.message}`));
    });
  }

  static async start<C extends CommandMap<C> & BaseCommands = BaseCommands>(
    options: ChildOptions,
  ): Promise<ChildHandle<C>> {
    counter += 1;
    const logFile = path.join(options.logDir, `${String(counter).padStart(3, '0')}-${options.name}.log`);
    const log = fs.openSync(logFile, 'a');
    // BENCH_CPU_PROFILE=<dir>: every child writes a V8 CPU profile there when it exits (for tuning, not figures).
    const profileDir = process.env.BENCH_CPU_PROFILE;
    const nodeArgs = [
      '--conditions=@switchyard/source',
      '--import',
      'tsx',
      '--expose-gc',
      ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${path.join(profileDir, `${counter}-${options.name}`)}`] : []),
      options.entry,
    ];
    const [command, args] = options.core
      ? ['taskset', ['-c', options.core, process.execPath, ...nodeArgs]]
      : [process.execPath, nodeArgs];
    const child = spawn(command, args, {
      cwd: repoRoot,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', log, log, 'ipc'],
    });
    fs.closeSync(log);
    const handle = new ChildHandle<C>(child, options.name, logFile);
    live.add(handle);
    const timeoutMs = options.readyTimeoutMs ?? 60_000;
    handle.info = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new BenchError('CHILD_TIMEOUT', `${options.name} not ready after ${timeoutMs} ms${handle.logTail()}`));
      }, timeoutMs);
      child.on('message', (raw: unknown) => {
        const message = raw as ChildMessage;
        if (message.kind === 'ready') {
          clearTimeout(timer);
          resolve(message.info);
        }
      });
      void handle.exited.then(() => {
        clearTimeout(timer);
        reject(handle.exitError ?? new BenchError('CHILD_FAILED', `${options.name} exited before ready`));
      });
    }).catch(async (error: unknown) => {
      await handle.stop();
      throw error;
    });
    return handle;
  }

  /** Sends `command` and resolves with the child's answer; commands without an argument take `null` (the default). */
  call<K extends keyof C & string>(
    command: K,
    ...[argument, timeoutMs = 120_000]: C[K]['argument'] extends null
      ? [argument?: null, timeoutMs?: number]
      : [argument: C[K]['argument'], timeoutMs?: number]
  ): Promise<C[K]['result']> {
    type T = C[K]['result'];
    if (this.exitError) return Promise.reject(this.exitError);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new BenchError('CHILD_TIMEOUT', `${this.name}: ${command} took over ${timeoutMs} ms${this.logTail()}`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value as T);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      const message: CallMessage = { kind: 'call', id, command, argument: argument ?? null };
      this.child.send(message, (error) => {
        if (error)
          this.pending
            .get(id)
            ?.reject(new BenchError('CHILD_FAILED', `${this.name}: ${command} not sent: ${error.message}`));
      });
    });
  }

  stats(): Promise<ProcessStats> {
    return (this as unknown as ChildHandle<BaseCommands>).call('stats');
  }

  /** Asks the child to exit, then kills it if it has not within a few seconds. */
  async stop(): Promise<void> {
    if (this.exitError) return;
    if (this.child.connected)
      this.child.send({ kind: 'call', id: 0, command: 'exit', argument: null } satisfies CallMessage, () => {});
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await this.exited;
    clearTimeout(timer);
  }

  /** Kills at once, without asking: only for exit paths. */
  kill(): void {
    this.child.kill('SIGKILL');
  }

  /** The end of the child's log, for error messages. */
  logTail(): string {
    try {
      const text = fs.readFileSync(this.logFile, 'utf8').trimEnd();
      if (!text) return '';
      const lines = text
        .split('\n')
        .slice(-12)
        .map((line) => (line.length > 400 ? `${line.slice(0, 400)}…` : line));
      return `\n--- last lines of ${this.logFile} ---\n${lines.join('\n')}`;
    } catch {
      return '';
    }
  }
}

/** Stops every child still running: used when a scenario fails midway and on exit. */
export async function stopAllChildren(): Promise<void> {
  await Promise.all([...live].map((child) => child.stop()));
}

/** Synchronous last resort on process exit: kill what is left, by the handles this process started. */
export function killAllChildrenNow(): void {
  for (const handle of live) handle.kill();
}

/**
 * Adds the end of each child's log to an error: a refusal the load generator saw ("room:join refused:
 * INTERNAL") is explained by the server's log, and CI output should show both.
 */
export function withChildLogs(error: unknown, children: ({ logTail(): string } | undefined)[]): Error {
  const base = error instanceof Error ? error : new Error(String(error));
  const tails = children.map((child) => child?.logTail() ?? '').filter((tail) => tail && !base.message.includes(tail));
  if (tails.length > 0) base.message += tails.join('');
  return base;
}
