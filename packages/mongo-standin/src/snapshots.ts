import { Timestamp, type Document } from 'bson';
import { compareTs } from './clock.js';
import { CommandError, ErrorCodes } from './errors.js';
import type { ReplicaSetMember } from './member.js';
import { canonicalKey, isPlainObject } from './query/values.js';

/**
 * Snapshot reads (readConcern `{ level: 'snapshot', atClusterTime }`, mongod 5.0+:
 * https://www.mongodb.com/docs/manual/reference/read-concern-snapshot/): a collection's documents as they were
 * at a cluster time, rebuilt from today's documents by undoing the writes the oplog holds after that time.
 * As in mongod, a time older than the snapshot history window (`minSnapshotHistoryWindowInSeconds`, 300 s) or
 * than the oplog fails with SnapshotTooOld (239), and a collection whose catalog changed since (dropped,
 * renamed, recreated) with SnapshotUnavailable (246).
 */
const SNAPSHOT_WINDOW_SECONDS = 300;

export interface SnapshotReadConcern {
  atClusterTime: Timestamp;
  /** The client named the time (true), or the server chose it and must report it (false). */
  given: boolean;
}

/** The snapshot a command reads at, or undefined when it does not ask for one. */
export function snapshotReadConcern(cmd: Document, member: ReplicaSetMember): SnapshotReadConcern | undefined {
  const rc = cmd.readConcern;
  // Inside a transaction the transaction's own snapshot applies (transactions.ts).
  if (!isPlainObject(rc) || rc.level !== 'snapshot' || cmd.autocommit !== undefined) return undefined;
  const at = rc.atClusterTime as { _bsontype?: string } | undefined;
  if (at !== undefined && at._bsontype !== 'Timestamp') {
    throw new CommandError(
      ErrorCodes.TypeMismatch,
      "BSON field 'readConcern.atClusterTime' is the wrong type, expected type 'timestamp'",
    );
  }
  if (at === undefined) {
    const point = member.oplog.majorityCommitPoint ?? member.lastApplied;
    return { atClusterTime: new Timestamp({ t: point.t, i: point.i }), given: false };
  }
  const ts = at as Timestamp;
  if (compareTs(ts, member.lastApplied) > 0) {
    throw new CommandError(
      ErrorCodes.InvalidOptions,
      `readConcern atClusterTime value must not be greater than the current clusterTime. Requested clusterTime: ${ts.toString()}; current clusterTime: ${member.lastApplied.toString()}`,
    );
  }
  return { atClusterTime: ts, given: true };
}

/** The documents of `db.coll` at `ts`, in natural order (documents written since come last). */
export function documentsAt(member: ReplicaSetMember, db: string, coll: string, ts: Timestamp): Document[] {
  const tooOld = () =>
    new CommandError(
      ErrorCodes.SnapshotTooOld,
      `Read timestamp ${ts.toString()} is older than the oldest available timestamp.`,
    );
  if (ts.t < Math.floor(Date.now() / 1000) - SNAPSHOT_WINDOW_SECONDS) throw tooOld();
  if (member.oplog.lostEntriesAfter(ts)) throw tooOld();
  const later = [...member.oplog.entriesAfter(ts)].filter(
    (e) => e.db === db && (e.coll === coll || e.to?.coll === coll || e.coll === undefined),
  );
  const docs = new Map<string, Document>();
  for (const doc of member.store.collection(db, coll)?.all() ?? []) docs.set(canonicalKey(doc._id), doc);
  for (const entry of later.reverse()) {
    const key = entry.documentKey ? canonicalKey(entry.documentKey._id) : '';
    switch (entry.op) {
      case 'insert':
        docs.delete(key);
        break;
      case 'update':
      case 'replace':
      case 'delete':
        if (entry.preImage) docs.set(key, entry.preImage);
        break;
      case 'noop':
        if (entry.ddl?.operationType === 'create') throw unavailable(db, coll);
        break;
      default:
        throw unavailable(db, coll);
    }
  }
  return [...docs.values()];
}

const unavailable = (db: string, coll: string) =>
  new CommandError(
    246,
    `Unable to read from a snapshot due to pending collection catalog changes; please retry the operation. Snapshot timestamp is before the latest catalog change of ${db}.${coll}`,
    { codeName: 'SnapshotUnavailable' },
  );

/** Commands that read at a snapshot outside transactions (mongod 5.0+); any other refuses `level: 'snapshot'`. */
const SNAPSHOT_COMMANDS = new Set(['find', 'aggregate', 'distinct']);

export function refuseUnsupportedSnapshot(name: string, cmd: Document): void {
  const rc = cmd.readConcern;
  if (!isPlainObject(rc) || rc.level !== 'snapshot' || cmd.autocommit !== undefined) return;
  const output =
    Array.isArray(cmd.pipeline) && cmd.pipeline.some((s) => isPlainObject(s) && ('$out' in s || '$merge' in s));
  if (!SNAPSHOT_COMMANDS.has(name) || output) {
    throw new CommandError(
      ErrorCodes.InvalidOptions,
      `Command ${name} does not support { readConcern: { level: "snapshot" } } outside a transaction`,
    );
  }
}
