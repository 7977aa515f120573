import type { Document } from 'bson';
import { CommandError, ErrorCodes, failedToParse, typeMismatch } from '../errors.js';
import type { ReplicaSetMember } from '../member.js';
import { validateCollectionName } from '../store.js';
import { isNumeric, isPlainObject, toNumber } from '../query/values.js';

/** What a command handler may use: the member's state and the connection it arrived on. */
export interface CommandContext {
  /** The command's `$db`. */
  db: string;
  member: ReplicaSetMember;
  connection: {
    id: number;
    /** Aborted when the connection closes, so a waiting getMore stops. */
    signal: AbortSignal;
    appName?: string;
  };
  /** Set by getMore once it has checked its cursor out (mongod labels errors after that by the cursor's command). */
  checkedOut?: 'changeStream' | 'query';
  /** Set by a handler whose connection must close without a reply once it returns (fail points). */
  closeConnection?: boolean;
}

export type CommandHandler = (cmd: Document, ctx: CommandContext) => Document | Promise<Document>;

export interface CommandSpec {
  handler: CommandHandler;
  /** Rejected with NotWritablePrimary while stepped down; delayed by setWriteLatency(). */
  write?: boolean;
  /** For commands that write only in some forms (aggregate with $out or $merge): whether this one does. */
  writes?: (cmd: Document) => boolean;
  /** A write the driver may retry under a txnNumber (gets RetryableWriteError labels, is deduplicated). */
  retryableWrite?: boolean;
  /** Rejected with NotPrimaryNoSecondaryOk while stepped down unless a secondary read preference is given. */
  read?: boolean;
}

/** Arguments any command may carry (mongod's "generic arguments"); they change nothing a handler does. */
export const GENERIC_ARGUMENTS: ReadonlySet<string> = new Set([
  '$db',
  '$clusterTime',
  '$readPreference',
  'lsid',
  'txnNumber',
  'autocommit',
  'startTransaction',
  'writeConcern',
  'readConcern',
  'comment',
  'maxTimeMS',
  'apiVersion',
  'apiStrict',
  'apiDeprecationErrors',
]);

export function collectionNameArg(cmd: Document, name: string, ctx: CommandContext): string {
  const value = cmd[name];
  if (typeof value !== 'string') {
    throw new CommandError(
      ErrorCodes.InvalidNamespace,
      `collection name has invalid type ${value === null ? 'null' : typeof value}`,
    );
  }
  return validateCollectionName(ctx.db, value);
}

export function optionalInt(cmd: Document, field: string): number | undefined {
  const value = cmd[field];
  if (value === undefined || value === null) return undefined;
  if (!isNumeric(value))
    throw typeMismatch(
      `BSON field '${field}' is the wrong type '${typeof value}', expected types '[long, int, decimal, double]'`,
    );
  return Math.trunc(toNumber(value));
}

export function optionalDocument(cmd: Document, field: string): Document | undefined {
  const value = cmd[field];
  if (value === undefined || value === null) return undefined;
  if (!isPlainObject(value))
    throw typeMismatch(`BSON field '${field}' is the wrong type '${typeof value}', expected type 'object'`);
  return value;
}

export function documentArray(cmd: Document, field: string): Document[] {
  const value = cmd[field];
  if (!Array.isArray(value)) throw failedToParse(`BSON field '${field}' is missing but a required field`);
  for (const doc of value)
    if (!isPlainObject(doc)) throw typeMismatch(`BSON field '${field}' must contain only documents`);
  return value as Document[];
}
