import type { Document } from 'bson';
import { CommandError, ErrorCodes } from './errors.js';
import { isNumeric, isPlainObject, toNumber } from './query/values.js';

/**
 * mongod's server fail points that drivers' specification tests use, with mongod's semantics
 * (https://github.com/mongodb/mongo/wiki/The-%22failCommand%22-fail-point, the transactions spec's "Server
 * Fail Point" section, and mongod's source: commands.cpp, service_entry_point_common.cpp, getmore_cmd.cpp,
 * transaction_participant.cpp):
 *
 * - `failCommand`: before a command runs, block it (`blockConnection`/`blockTimeMS`), then close its
 *   connection (`closeConnection`) or fail it (`errorCode`, `errorLabels` override the labels mongod would
 *   attach); after a write ran, replace its write-concern wait by `writeConcernError`. Matches on
 *   `failCommands` (or `failAllCommands`), `appName` and `namespace`; `configureFailPoint` is never failed.
 * - `failGetMoreAfterCursorCheckout`: fails a getMore once its cursor is checked out, so mongod's own label
 *   logic sees the originating command (a change stream's getMore gets `ResumableChangeStreamError`).
 * - `onPrimaryTransactionalWrite`: after each statement of a retryable write executed on the primary, closes
 *   the connection (`closeConnection`, default true) and/or fails the statement before it commits
 *   (`failBeforeCommitExceptionCode`: the write is not applied).
 *
 * Modes: `'off'`, `'alwaysOn'`, `{ times: n }`, `{ skip: n }` (the first n matching evaluations pass, then
 * always on) and `{ activationProbability: p }`.
 */

/** A failCommand rule, from `faults.failCommands()` or `configureFailPoint: 'failCommand'`. */
export interface FailCommandRule {
  /**
   * 'failCommand' rules fail a command before it checks out its cursor, as mongod's fail point does; 'api'
   * rules (faults.failCommands()) model a failure inside the command, so a change stream's getMore gets the
   * labels mongod attaches to a real one (ResumableChangeStreamError for resumable codes).
   */
  origin: 'api' | 'failCommand';
  /** Command names (and aliases) it applies to; undefined with `failAllCommands`. */
  commands: ReadonlySet<string> | undefined;
  mode: FailPointMode;
  code?: number;
  errmsg?: string;
  /** Labels replacing those mongod would attach (an empty array removes them all). */
  errorLabels?: string[];
  closeConnection: boolean;
  blockTimeMS: number;
  appName?: string;
  /** `db.coll` the command must target. */
  namespace?: string;
  /** Returned in place of waiting for the write concern, after the write ran. */
  writeConcernError?: Document;
}

export interface FailPointMode {
  /** Activations left; Infinity for alwaysOn, skip and activationProbability. */
  remaining: number;
  /** Matching evaluations to let through before activating. */
  skip: number;
  /** Chance of activating on each matching evaluation (1 unless `activationProbability`). */
  probability: number;
}

/** What a command looks like to the failCommand matcher. */
export interface FailCommandTarget {
  name: string;
  /** `db.coll` of the command, when it names a collection. */
  namespace: string | undefined;
  appName: string | undefined;
}

/** Thrown by a handler to close its connection without a reply (what mongod's `session()->end()` does). */
export class ConnectionClosedByFailPoint extends Error {
  override name = 'ConnectionClosedByFailPoint';
}

/** Aliases mongod registers for commands drivers name in failCommands. */
const ALIASES: Record<string, string> = {
  findandmodify: 'findAndModify',
  ismaster: 'isMaster',
  buildinfo: 'buildInfo',
  deleteIndexes: 'dropIndexes',
};

const canonicalName = (name: string) => ALIASES[name] ?? name;

const NAMED_FAIL_POINTS = new Set(['failCommand', 'failGetMoreAfterCursorCheckout', 'onPrimaryTransactionalWrite']);

interface NamedFailPoint {
  mode: FailPointMode;
  data: Document;
}

/** One evaluation of a mode: whether it activates now (and consumes an activation if so). */
function activate(mode: FailPointMode): boolean {
  if (mode.remaining <= 0) return false;
  if (mode.skip > 0) {
    mode.skip -= 1;
    return false;
  }
  if (mode.probability < 1 && Math.random() >= mode.probability) return false;
  mode.remaining -= 1;
  return true;
}

/** The fail points of a replica set (a failCommand rule applies whichever member a command reaches). */
export class FailPoints {
  /** `faults.failCommands()` rules, oldest first; they stack. */
  private rules: FailCommandRule[] = [];
  /** `configureFailPoint: 'failCommand'`: one configuration at a time, as in mongod. */
  private configured: FailCommandRule | undefined;
  private readonly named = new Map<string, NamedFailPoint>();
  /** Times each fail point activated, for configureFailPoint's `count`. */
  private readonly entered = new Map<string, number>();

  addRule(rule: FailCommandRule): void {
    this.rules.push(rule);
  }

  /** Removes every failCommand rule, the JS API's and the configured one. */
  clearRules(): void {
    this.rules = [];
    this.configured = undefined;
  }

  /** Clears every fail point (faults.reset()). */
  clear(): void {
    this.clearRules();
    this.named.clear();
  }

  get hasFailCommand(): boolean {
    return this.rules.length > 0 || this.configured !== undefined;
  }

  /**
   * The failCommand rule that fires for this command before it runs (a block, a closed connection or an
   * error), if any; consumes one activation. Rules with only a `writeConcernError` fire after the command.
   */
  takeBeforeCommand(target: FailCommandTarget): FailCommandRule | undefined {
    return this.take(target, (rule) => rule.code !== undefined || rule.closeConnection || rule.blockTimeMS > 0);
  }

  /** The failCommand rule whose `writeConcernError` replaces this write's write-concern wait, if any. */
  takeWriteConcernError(target: FailCommandTarget): FailCommandRule | undefined {
    return this.take(target, (rule) => rule.writeConcernError !== undefined);
  }

  private take(target: FailCommandTarget, wanted: (rule: FailCommandRule) => boolean): FailCommandRule | undefined {
    if (!this.hasFailCommand) return undefined;
    const name = canonicalName(target.name);
    if (name === 'configureFailPoint') return undefined;
    const candidates = this.configured ? [...this.rules, this.configured] : this.rules;
    for (const rule of candidates) {
      if (!wanted(rule) || !matches(rule, name, target)) continue;
      if (!activate(rule.mode)) continue;
      this.count('failCommand');
      if (rule.mode.remaining <= 0) this.forget(rule);
      return rule;
    }
    return undefined;
  }

  private forget(rule: FailCommandRule): void {
    if (rule === this.configured) this.configured = undefined;
    else this.rules = this.rules.filter((r) => r !== rule);
  }

  /** The data of a named fail point if it activates now (`failGetMoreAfterCursorCheckout`, ...). */
  takeNamed(
    name: 'failGetMoreAfterCursorCheckout' | 'onPrimaryTransactionalWrite',
    applies: (data: Document) => boolean = () => true,
  ): Document | undefined {
    const point = this.named.get(name);
    if (!point || !applies(point.data) || !activate(point.mode)) return undefined;
    this.count(name);
    if (point.mode.remaining <= 0) this.named.delete(name);
    return point.data;
  }

  private count(name: string): void {
    this.entered.set(name, (this.entered.get(name) ?? 0) + 1);
  }

  /** `configureFailPoint`: replies `{ count }`, the times the fail point had activated, as mongod does. */
  configure(cmd: Document): Document {
    const name = cmd.configureFailPoint;
    if (typeof name !== 'string' || !NAMED_FAIL_POINTS.has(name)) {
      throw new CommandError(ErrorCodes.BadValue, `Cannot find failpoint: ${String(name)}`);
    }
    const count = this.entered.get(name) ?? 0;
    this.entered.set(name, 0);
    const mode = parseMode(cmd.mode);
    const data = cmd.data === undefined ? {} : cmd.data;
    if (!isPlainObject(data)) throw new CommandError(ErrorCodes.TypeMismatch, "the 'data' option must be an object");
    if (name === 'failCommand') {
      this.configured = mode ? failCommandRule(data, mode) : undefined;
    } else if (mode) {
      this.named.set(name, { mode, data: { ...data } });
    } else {
      this.named.delete(name);
    }
    return { count, ok: 1 };
  }
}

function matches(rule: FailCommandRule, name: string, target: FailCommandTarget): boolean {
  if (rule.commands !== undefined && !rule.commands.has(name) && !rule.commands.has(target.name)) return false;
  if (rule.appName !== undefined && rule.appName !== target.appName) return false;
  if (rule.namespace !== undefined && rule.namespace !== target.namespace) return false;
  return true;
}

/** A fail point mode; undefined for 'off' (and for `{ times: 0 }`, which never activates). */
function parseMode(mode: unknown): FailPointMode | undefined {
  if (mode === 'off') return undefined;
  if (mode === 'alwaysOn') return { remaining: Number.POSITIVE_INFINITY, skip: 0, probability: 1 };
  if (isPlainObject(mode)) {
    const [key, ...others] = Object.keys(mode);
    const value: unknown = key === undefined ? undefined : mode[key];
    if (others.length === 0 && key !== undefined && isNumeric(value)) {
      const n = toNumber(value);
      if (key === 'times' && n >= 0) return n === 0 ? undefined : { remaining: Math.trunc(n), skip: 0, probability: 1 };
      if (key === 'skip' && n >= 0) return { remaining: Number.POSITIVE_INFINITY, skip: Math.trunc(n), probability: 1 };
      if (key === 'activationProbability' && n >= 0 && n <= 1) {
        return { remaining: Number.POSITIVE_INFINITY, skip: 0, probability: n };
      }
    }
  }
  throw new CommandError(
    ErrorCodes.BadValue,
    `'mode' must be 'off', 'alwaysOn', or an object with one of 'times', 'skip' or 'activationProbability', got ${JSON.stringify(mode)}`,
  );
}

/** configureFailPoint's `data` for failCommand, checked as mongod checks it. */
function failCommandRule(data: Document, mode: FailPointMode): FailCommandRule {
  const commands = data.failCommands;
  const all = data.failAllCommands === true;
  if (!all && (!Array.isArray(commands) || !commands.every((c) => typeof c === 'string'))) {
    throw new CommandError(ErrorCodes.BadValue, "failCommand needs 'failCommands', an array of command names");
  }
  const blockConnection = data.blockConnection === true;
  if (blockConnection && (!isNumeric(data.blockTimeMS) || toNumber(data.blockTimeMS) < 0)) {
    throw new CommandError(
      ErrorCodes.InvalidOptions,
      "must specify 'blockTimeMS' when 'blockConnection' is true, and it must be non-negative",
    );
  }
  const wce = data.writeConcernError;
  if (wce !== undefined && (!isPlainObject(wce) || !isNumeric(wce.code))) {
    throw new CommandError(ErrorCodes.BadValue, "failCommand's 'writeConcernError' must be an object with a 'code'");
  }
  return {
    origin: 'failCommand',
    commands: all ? undefined : new Set((commands as string[]).map(canonicalName)),
    mode,
    code: isNumeric(data.errorCode) ? Math.trunc(toNumber(data.errorCode)) : undefined,
    errorLabels: Array.isArray(data.errorLabels) ? data.errorLabels.map(String) : undefined,
    closeConnection: data.closeConnection === true,
    blockTimeMS: blockConnection ? toNumber(data.blockTimeMS) : 0,
    appName: typeof data.appName === 'string' ? data.appName : undefined,
    namespace: typeof data.namespace === 'string' ? data.namespace : undefined,
    writeConcernError: wce === undefined ? undefined : { ...(wce as Document) },
  };
}

/** A rule of the JS API (faults.failCommands()). */
export function ruleForCommands(
  commands: string[],
  mode: FailPointMode,
  fields: Omit<FailCommandRule, 'commands' | 'mode' | 'origin'>,
): FailCommandRule {
  return { origin: 'api', commands: new Set(commands.map(canonicalName)), mode, ...fields };
}
