import { Timestamp, type Document } from 'bson';
import { ClusterClock } from './clock.js';
import type { CommandContext } from './commands/context.js';
import { CommandError, ErrorCodes } from './errors.js';
import type { ReplicaSetMember } from './member.js';
import { Oplog, type OplogEntry } from './oplog.js';
import { canonicalKey, isPlainObject, toNumber } from './query/values.js';
import { documentsAt } from './snapshots.js';
import { Collection, Store, type CollectionOptions, type IndexSpec } from './store.js';

/**
 * Multi-document transactions on a replica set (https://www.mongodb.com/docs/manual/core/transactions/ and
 * the transactions spec), as one mongod runs them:
 *
 * - A session starts one with `startTransaction: true, autocommit: false` and a `txnNumber`; later
 *   statements carry `autocommit: false` and the same number; `commitTransaction` / `abortTransaction`
 *   (on `admin`) end it. Only the first statement may set a `readConcern` (local, majority or snapshot);
 *   none may set a `writeConcern` (commit and abort do).
 * - Statements read a snapshot of the majority-committed data taken when the transaction started, plus the
 *   transaction's own writes; nobody else sees those writes before the commit.
 * - Writing a document another write changed since the snapshot fails with WriteConflict (112, labelled
 *   TransientTransactionError) and aborts the transaction, as does any other failing statement (write
 *   errors are returned as the command's error, as mongod does inside a transaction).
 * - The commit applies the writes, in order, as ordinary writes (replicated, shown to change streams with
 *   the session's `lsid` and `txnNumber`); it waits for the commit's write concern. A commit retried after
 *   it succeeded succeeds again; a commit or statement after an abort fails with NoSuchTransaction (251).
 *
 * What differs from mongod: the commit's writes get one cluster time each (mongod's share one, with
 * increasing txnOpIndex), and a write outside the transaction is never blocked by it (it succeeds, and the
 * transaction then fails to commit with WriteConflict).
 */

/** Commands a transaction may run (mongod 7.0); others fail with OperationNotSupportedInTransaction. */
const IN_TRANSACTION = new Set([
  'find',
  'getMore',
  'killCursors',
  'aggregate',
  'distinct',
  'insert',
  'update',
  'delete',
  'findAndModify',
  'findandmodify',
  'create',
  'createIndexes',
  'commitTransaction',
  'abortTransaction',
]);

/** Errors whose labels (TransientTransactionError) the dispatcher attaches by mongod's rules. */
const transient = (code: number, message: string) => new CommandError(code, message);

const noSuchTransaction = (txnNumber: number, why: string) =>
  transient(ErrorCodes.NoSuchTransaction, `Transaction with { txnNumber: ${txnNumber} } ${why}`);

type TxnState = 'inProgress' | 'committed' | 'aborted';

/** A transaction's private view of the data: collections cloned at the snapshot when first touched. */
class TransactionStore extends Store {
  /** The version of each document the snapshot held (by namespace, then `_id` key): conflict detection. */
  readonly snapshotVersions = new Map<string, Map<string, Document>>();
  private readonly cloned = new Set<string>();

  constructor(
    oplog: Oplog,
    private readonly member: ReplicaSetMember,
    private readonly readAt: Timestamp,
  ) {
    super(oplog, () => {});
  }

  override collection(db: string, name: string): Collection | undefined {
    const own = super.collection(db, name);
    const ns = `${db}.${name}`;
    if (own || this.cloned.has(ns)) return own;
    this.cloned.add(ns);
    const real = this.member.store.collection(db, name);
    if (!real) return undefined;
    const copy = this.applyCatalog(real.catalogSnapshot());
    const versions = new Map<string, Document>();
    for (const doc of real.isView ? [] : documentsAt(this.member, db, name, this.readAt)) {
      copy.applyPut(doc);
      versions.set(canonicalKey(doc._id), doc);
    }
    this.snapshotVersions.set(ns, versions);
    return copy;
  }

  override createCollection(db: string, name: string, options: CollectionOptions): Collection {
    this.cloned.add(`${db}.${name}`);
    this.snapshotVersions.set(`${db}.${name}`, new Map());
    return super.createCollection(db, name, options);
  }
}

interface Transaction {
  txnNumber: number;
  state: TxnState;
  store: TransactionStore;
  oplog: Oplog;
  /** The writes to apply at commit, in order (entries of the private oplog). */
  writes: OplogEntry[];
  lsid: Document;
  /** Statements run so far (a readConcern is allowed on the first only). */
  statements: number;
  /** Documents it wrote (`ns\0_id`): another transaction writing one fails with WriteConflict until this one ends. */
  locks: Set<string>;
  member: ReplicaSetMember;
  /** When it started: mongod aborts a transaction older than transactionLifetimeLimitSeconds (60 s). */
  startedAt: number;
}

interface SessionState {
  txnNumber: number;
  transaction?: Transaction;
}

const registries = new WeakMap<ReplicaSetMember, Map<string, SessionState>>();
/** Document locks of in-progress transactions, per member. */
const lockTables = new WeakMap<ReplicaSetMember, Map<string, Transaction>>();

function locksOf(member: ReplicaSetMember): Map<string, Transaction> {
  let locks = lockTables.get(member);
  if (!locks) {
    locks = new Map();
    lockTables.set(member, locks);
  }
  return locks;
}

/** Ends a transaction (committed or aborted) and releases its document locks. */
function finish(transaction: Transaction, member: ReplicaSetMember, state: 'committed' | 'aborted'): void {
  transaction.state = state;
  const locks = locksOf(member);
  for (const key of transaction.locks) if (locks.get(key) === transaction) locks.delete(key);
  transaction.locks.clear();
}
const MAX_SESSIONS = 10_000;

function sessionsOf(member: ReplicaSetMember): Map<string, SessionState> {
  let sessions = registries.get(member);
  if (!sessions) {
    sessions = new Map();
    registries.set(member, sessions);
  }
  return sessions;
}

/** Whether a command belongs to a transaction (carries `autocommit` or `startTransaction`). */
export function isTransactionCommand(cmd: Document): boolean {
  return cmd.autocommit !== undefined || cmd.startTransaction !== undefined;
}

function checkShape(name: string, cmd: Document, ctx: CommandContext): { lsidKey: string; txnNumber: number } {
  if (cmd.autocommit !== false) {
    throw new CommandError(ErrorCodes.InvalidOptions, 'autocommit field can only be specified as false');
  }
  if (cmd.startTransaction !== undefined && cmd.startTransaction !== true) {
    throw new CommandError(ErrorCodes.InvalidOptions, 'startTransaction field can only be specified as true');
  }
  if (!isPlainObject(cmd.lsid)) {
    throw new CommandError(ErrorCodes.InvalidOptions, 'Transaction requires a session ID (lsid)');
  }
  if (cmd.txnNumber === undefined) {
    throw new CommandError(
      ErrorCodes.InvalidOptions,
      "'autocommit' field requires a transaction number to also be specified",
    );
  }
  if (!IN_TRANSACTION.has(name)) {
    throw new CommandError(
      ErrorCodes.OperationNotSupportedInTransaction,
      `Cannot run '${name}' in a multi-document transaction.`,
    );
  }
  if ((name === 'commitTransaction' || name === 'abortTransaction') && ctx.db !== 'admin') {
    throw new CommandError(ErrorCodes.Unauthorized, `${name} may only be run against the admin database.`);
  }
  if (name === 'aggregate' && Array.isArray(cmd.pipeline)) {
    for (const stage of cmd.pipeline) {
      if (isPlainObject(stage) && ('$changeStream' in stage || '$out' in stage || '$merge' in stage)) {
        throw new CommandError(
          ErrorCodes.OperationNotSupportedInTransaction,
          `${Object.keys(stage)[0]} is not allowed in a multi-document transaction`,
        );
      }
    }
  }
  if (cmd.writeConcern !== undefined && name !== 'commitTransaction' && name !== 'abortTransaction') {
    throw new CommandError(ErrorCodes.InvalidOptions, 'Cannot set write concern after starting a transaction.');
  }
  return { lsidKey: canonicalKey(cmd.lsid.id), txnNumber: toNumber(cmd.txnNumber) };
}

/** The snapshot a new transaction reads: the majority commit point (what `readConcern: snapshot` sees). */
function snapshotTime(member: ReplicaSetMember): Timestamp {
  const point = member.oplog.majorityCommitPoint ?? member.lastApplied;
  return new Timestamp({ t: point.t, i: point.i });
}

/**
 * Resolves the transaction a command runs in (starting it with `startTransaction`), or fails as mongod does.
 * Returns the context the command's handler must run with: reads and writes go to the transaction's view.
 */
export function enterTransaction(
  name: string,
  cmd: Document,
  ctx: CommandContext,
): { context: CommandContext; transaction: Transaction } {
  const { lsidKey, txnNumber } = checkShape(name, cmd, ctx);
  const sessions = sessionsOf(ctx.member);
  let session = sessions.get(lsidKey);
  if (cmd.startTransaction === true) {
    if (session && txnNumber < session.txnNumber) {
      throw new CommandError(
        225,
        `Cannot start transaction ${txnNumber} on session because a newer transaction ${session.txnNumber} has already started.`,
        { codeName: 'TransactionTooOld' },
      );
    }
    if (session && txnNumber === session.txnNumber && session.transaction) {
      throw new CommandError(
        ErrorCodes.ConflictingOperationInProgress,
        `Cannot start a transaction at given transaction number ${txnNumber}: a transaction with the same number is in progress.`,
      );
    }
    const rc = cmd.readConcern;
    if (
      isPlainObject(rc) &&
      rc.level !== undefined &&
      !['local', 'majority', 'snapshot'].includes(rc.level as string)
    ) {
      throw new CommandError(
        ErrorCodes.InvalidOptions,
        `The readConcern level must be either 'local' (default), 'majority' or 'snapshot' in order to run in a transaction`,
      );
    }
    const readAt = snapshotTime(ctx.member);
    const oplog = new Oplog(new ClusterClock(), {
      maxEntries: Number.MAX_SAFE_INTEGER,
      maxBytes: Number.MAX_SAFE_INTEGER,
    });
    const transaction: Transaction = {
      txnNumber,
      state: 'inProgress',
      store: new TransactionStore(oplog, ctx.member, readAt),
      oplog,
      writes: [],
      lsid: cmd.lsid as Document,
      statements: 0,
      locks: new Set(),
      member: ctx.member,
      startedAt: Date.now(),
    };
    oplog.onAppend((entry) => recordWrite(transaction, ctx.member, entry));
    if (sessions.size >= MAX_SESSIONS && !sessions.has(lsidKey))
      sessions.delete(sessions.keys().next().value as string);
    // A new transaction on the session aborts the one before, if it is still open.
    if (session?.transaction?.state === 'inProgress') finish(session.transaction, ctx.member, 'aborted');
    session = { txnNumber, transaction };
    sessions.set(lsidKey, session);
  } else {
    if (!session || session.txnNumber !== txnNumber || !session.transaction) {
      throw noSuchTransaction(txnNumber, 'does not match any in-progress transactions.');
    }
    if (session.transaction.state === 'inProgress' && expired(session.transaction)) {
      finish(session.transaction, ctx.member, 'aborted');
    }
    const ending = name === 'commitTransaction' || name === 'abortTransaction';
    if (!ending && session.transaction.state === 'aborted') throw noSuchTransaction(txnNumber, 'has been aborted.');
    if (!ending && session.transaction.state === 'committed') {
      throw new CommandError(ErrorCodes.TransactionCommitted, `Transaction ${txnNumber} has been committed.`);
    }
    if (cmd.readConcern !== undefined) {
      throw new CommandError(
        ErrorCodes.InvalidOptions,
        'Only the first command in a transaction may specify a readConcern',
      );
    }
  }
  const transaction = session.transaction!;
  transaction.statements += 1;
  const member = new Proxy(ctx.member, {
    get(target, prop) {
      if (prop === 'store') return transaction.store;
      if (prop === 'oplog') return transaction.oplog;
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { context: { ...ctx, member }, transaction };
}

/** Records a write of the transaction, failing with WriteConflict if another write changed its document since the snapshot. */
function recordWrite(transaction: Transaction, member: ReplicaSetMember, entry: OplogEntry): void {
  if (entry.coll !== undefined && entry.documentKey) {
    const ns = `${entry.db}.${entry.coll}`;
    const key = canonicalKey(entry.documentKey._id);
    const lockKey = `${ns}\0${key}`;
    const locks = locksOf(member);
    const holder = locks.get(lockKey);
    if (holder && holder !== transaction && holder.state === 'inProgress' && expired(holder)) {
      finish(holder, member, 'aborted');
    }
    if (holder && holder !== transaction && holder.state === 'inProgress') {
      throw transient(
        ErrorCodes.WriteConflict,
        'Write conflict during plan execution and yielding is disabled. :: Please retry your operation or multi-document transaction.',
      );
    }
    locks.set(lockKey, transaction);
    transaction.locks.add(lockKey);
    const snapshot = transaction.store.snapshotVersions.get(ns)?.get(key);
    const current = member.store.collection(entry.db, entry.coll)?.get(entry.documentKey._id);
    const firstWrite = !transaction.writes.some(
      (w) => w.coll === entry.coll && w.db === entry.db && w.documentKey && canonicalKey(w.documentKey._id) === key,
    );
    if (firstWrite && current !== snapshot) {
      throw transient(
        ErrorCodes.WriteConflict,
        'Write conflict during plan execution and yielding is disabled. :: Please retry your operation or multi-document transaction.',
      );
    }
  }
  transaction.writes.push(entry);
}

const TRANSACTION_LIFETIME_MS = 60_000;

function expired(transaction: Transaction): boolean {
  return Date.now() - transaction.startedAt > TRANSACTION_LIFETIME_MS;
}

/**
 * `endSessions` / `killSessions` (the sessions given) and `killAllSessions` (every session): their open
 * transactions are aborted, as mongod aborts them.
 */
export function endSessionTransactions(member: ReplicaSetMember, lsids: unknown[] | 'all'): void {
  const sessions = sessionsOf(member);
  const keys =
    lsids === 'all'
      ? [...sessions.keys()]
      : lsids.filter(isPlainObject).map((lsid) => canonicalKey((lsid as Document).id));
  for (const key of keys) {
    const transaction = sessions.get(key)?.transaction;
    if (transaction?.state === 'inProgress') finish(transaction, member, 'aborted');
    if (lsids !== 'all') sessions.delete(key);
  }
}

/** A statement of the transaction failed: mongod aborts the transaction. */
export function abortOnFailure(transaction: Transaction): void {
  if (transaction.state === 'inProgress') finish(transaction, transaction.member, 'aborted');
}

/** Codes mongod treats as transient inside a transaction (isTransientTransactionError). */
const TRANSIENT_CODES: ReadonlySet<number> = new Set([112, 24, 251, 246, 239]);

/**
 * A write error inside a transaction aborts it (mongod's write_ops_exec handleError): a transient one
 * (WriteConflict, ...) becomes the command's error, labelled TransientTransactionError; any other (a
 * duplicate key) stays a write error of the reply.
 */
export function handleWriteErrors(transaction: Transaction, reply: Document): void {
  const errors = reply.writeErrors;
  if (!Array.isArray(errors) || errors.length === 0) return;
  abortOnFailure(transaction);
  const first = errors[0] as Document;
  if (!TRANSIENT_CODES.has(toNumber(first.code))) return;
  const { index: _index, code, codeName, errmsg, ...extra } = first;
  throw new CommandError(toNumber(code), String(errmsg), { codeName: codeName as string, extra });
}

/** `commitTransaction`: applies the transaction's writes to the member's data, once. */
export function commitTransaction(transaction: Transaction, ctx: CommandContext): Document {
  if (transaction.state === 'committed') return { ok: 1 };
  if (transaction.state === 'aborted') throw noSuchTransaction(transaction.txnNumber, 'has been aborted.');
  const { store } = ctx.member;
  const txn = { lsid: transaction.lsid, txnNumber: transaction.txnNumber };
  // Every document the transaction writes must still be as its snapshot had it (first-writer-wins).
  for (const entry of transaction.writes) {
    if (!entry.documentKey || entry.coll === undefined) continue;
    const snapshot = transaction.store.snapshotVersions
      .get(`${entry.db}.${entry.coll}`)
      ?.get(canonicalKey(entry.documentKey._id));
    if (store.collection(entry.db, entry.coll)?.get(entry.documentKey._id) !== snapshot) {
      finish(transaction, transaction.member, 'aborted');
      throw new CommandError(ErrorCodes.WriteConflict, 'Write conflict during commit of a multi-document transaction.');
    }
  }
  for (const entry of transaction.writes) apply(store, entry, txn);
  finish(transaction, transaction.member, 'committed');
  return { ok: 1 };
}

function apply(store: Store, entry: OplogEntry, txn: { lsid: Document; txnNumber: number }): void {
  const options = { bypassDocumentValidation: true, transaction: txn };
  switch (entry.op) {
    case 'insert':
      store.ensureCollection(entry.db, entry.coll!).collection.insert(entry.document!, options);
      return;
    case 'update':
    case 'replace': {
      const collection = store.collection(entry.db, entry.coll!)!;
      const before = collection.get(entry.documentKey!._id);
      if (before)
        collection.replace(
          before,
          entry.document!,
          entry.op === 'update' ? (entry.updateDescription as never) : undefined,
          options,
        );
      return;
    }
    case 'delete': {
      const collection = store.collection(entry.db, entry.coll!);
      const before = collection?.get(entry.documentKey!._id);
      if (before) collection!.delete(before, options);
      return;
    }
    case 'noop': {
      if (entry.ddl?.operationType === 'create' && !store.collection(entry.db, entry.coll!)) {
        store.createCollection(entry.db, entry.coll!, { ...(entry.catalog?.options ?? {}) });
      } else if (entry.ddl?.operationType === 'createIndexes') {
        const collection = store.ensureCollection(entry.db, entry.coll!).collection;
        for (const spec of (entry.ddl.operationDescription.indexes as IndexSpec[] | undefined) ?? []) {
          collection.createIndex({ ...spec, key: { ...spec.key } });
        }
      }
      return;
    }
    default:
      return;
  }
}

/** `abortTransaction`. */
export function abortTransaction(transaction: Transaction): Document {
  if (transaction.state === 'committed') {
    throw new CommandError(256, 'Cannot abort a transaction that has been committed', {
      codeName: 'TransactionCommitted',
    });
  }
  if (transaction.state === 'aborted') throw noSuchTransaction(transaction.txnNumber, 'has been aborted.');
  finish(transaction, transaction.member, 'aborted');
  return { ok: 1 };
}

export type { Transaction };
