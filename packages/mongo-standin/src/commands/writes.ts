import { ObjectId, type Document } from 'bson';
import { CommandError, ErrorCodes, failedToParse } from '../errors.js';
import { compileFilter, type Matcher } from '../query/match.js';
import { compileProjection } from '../query/project.js';
import { compileSort, sortDocuments } from '../query/sort.js';
import { applyUpdate, compileArrayFilters, isOperatorUpdate, seedFromQuery, validateUpdate } from '../query/update.js';
import { describeUpdate, sameValue } from '../query/update-description.js';
import { withCollation } from '../query/collation.js';
import { isNumeric, isPlainObject, rankOf, toNumber, TypeRank, valuesEqual } from '../query/values.js';
import type { Variables } from '../query/expressions.js';
import type { Collection, WriteOptions } from '../store.js';
import {
  collectionNameArg,
  documentArray,
  optionalDocument,
  type CommandContext,
  type CommandSpec,
} from './context.js';
import { Statements } from './statements.js';
import { commandVariables } from './variables.js';

interface WriteError {
  index: number;
  code: number;
  codeName: string;
  errmsg: string;
  [extra: string]: unknown;
}

function toWriteError(index: number, err: unknown): WriteError {
  if (err instanceof CommandError)
    return { index, code: err.code, codeName: err.codeName, errmsg: err.message, ...err.extra };
  return { index, code: ErrorCodes.InternalError, codeName: 'InternalError', errmsg: String(err) };
}

/** Runs each statement; ordered writes stop at the first error, unordered ones carry on. */
function runStatements<T>(items: T[], ordered: boolean, run: (item: T, index: number) => void): WriteError[] {
  const errors: WriteError[] = [];
  for (let i = 0; i < items.length; i++) {
    try {
      const item = items[i]!;
      // Update and delete statements carry their own collation.
      const collation = isPlainObject(item) ? ((item as Document).collation as Document | undefined) : undefined;
      withCollation(collation, () => run(item, i));
    } catch (err) {
      if (!(err instanceof CommandError)) throw err;
      errors.push(toWriteError(i, err));
      if (ordered) break;
    }
  }
  return errors;
}

function withWriteErrors(reply: Document, errors: WriteError[]): Document {
  if (errors.length > 0) reply.writeErrors = errors;
  return reply;
}

/** What an update statement needs besides the document: `let` variables and compiled `arrayFilters`. */
interface UpdateEnvironment {
  variables: Variables;
  arrayFilters?: Map<string, Matcher>;
  write: WriteOptions;
}

/** Applies one update to one stored document; returns the new version, or undefined when nothing changed. */
function updateStored(
  collection: Collection,
  before: Document,
  update: Document | Document[],
  env: UpdateEnvironment,
): Document | undefined {
  const outcome = applyUpdate(before, update, { inserting: false, ...env });
  if (sameValue(outcome.doc, before)) return undefined;
  const description = outcome.kind === 'replacement' ? undefined : describeUpdate(before, outcome.doc, outcome.log);
  collection.replace(before, outcome.doc, description, env.write);
  return outcome.doc;
}

function upsertDocument(
  collection: Collection,
  query: Document,
  update: Document | Document[],
  env: UpdateEnvironment,
): Document {
  const seed = Array.isArray(update) || isOperatorUpdate(update) ? seedFromQuery(query) : {};
  const { doc } = applyUpdate(seed, update, { inserting: true, ...env });
  const withId = doc._id === undefined ? { _id: seedFromQuery(query)._id ?? new ObjectId(), ...doc } : doc;
  collection.insert(withId, env.write);
  return withId;
}

function writeOptions(cmd: Document): WriteOptions {
  return { bypassDocumentValidation: cmd.bypassDocumentValidation === true };
}

/** mongod 7.0 has no `sort` on update statements (8.0 added it): IDL refuses the unknown field. */
function refuseStatementSort(statement: Document, command: string): void {
  if (statement.sort !== undefined) {
    throw new CommandError(40415, `BSON field '${command}.sort' is an unknown field.`, { codeName: 'Location40415' });
  }
}

export function matchingDocuments(
  collection: Collection | undefined,
  filter: unknown,
  sort?: unknown,
  variables?: Variables,
): Document[] {
  // The filter is parsed (and refused when invalid) whether or not the collection exists, as mongod does.
  const matcher = compileFilter(filter, { variables });
  if (sort !== undefined) compileSort(sort);
  if (!collection) return [];
  // The one index the stand-in uses: an _id equality looks the document up instead of scanning.
  const id: unknown = isPlainObject(filter) ? filter._id : undefined;
  const byId = id !== undefined && !isPlainObject(id) && rankOf(id) !== TypeRank.RegExp;
  const candidates = byId ? [collection.get(id)].filter((d): d is Document => d !== undefined) : collection.all();
  const found = candidates.filter((doc) => matcher(doc));
  return sort === undefined ? found : sortDocuments(found, sort);
}

function insert(cmd: Document, ctx: CommandContext): Document {
  const name = collectionNameArg(cmd, 'insert', ctx);
  const documents = documentArray(cmd, 'documents');
  const ordered = cmd.ordered !== false;
  const statements = new Statements(ctx, cmd);
  const write = writeOptions(cmd);
  const { collection } = ctx.member.store.ensureCollection(ctx.db, name);
  let n = 0;
  const errors = runStatements(documents, ordered, (doc, index) => {
    n += statements.run(index, () => {
      collection.insert(doc._id === undefined ? { _id: new ObjectId(), ...doc } : doc, write);
      return { n: 1 };
    }).n as number;
  });
  return withWriteErrors({ n, ok: 1 }, errors);
}

function update(cmd: Document, ctx: CommandContext): Document {
  const name = collectionNameArg(cmd, 'update', ctx);
  const statements = documentArray(cmd, 'updates');
  const ordered = cmd.ordered !== false;
  // Parsing errors fail the whole command before any statement runs, as mongod's IDL parser does.
  for (const statement of statements) refuseStatementSort(statement, 'update.updates');
  const executor = new Statements(ctx, cmd);
  const variables = commandVariables(cmd, ctx);
  let n = 0;
  let nModified = 0;
  const upserted: Document[] = [];
  const errors = runStatements(statements, ordered, (statement, index) => {
    const query = optionalDocument(statement, 'q') ?? {};
    const u = statement.u;
    validateUpdate(u);
    if (statement.multi === true && !Array.isArray(u) && !isOperatorUpdate(u))
      throw failedToParse('multi update is not supported for replacement-style update');
    const env = { variables, arrayFilters: compileArrayFilters(statement.arrayFilters), write: writeOptions(cmd) };
    const outcome = executor.run(index, () => {
      const collection = ctx.member.store.collection(ctx.db, name);
      const targets = matchingDocuments(collection, query, undefined, variables);
      const selected = statement.multi === true ? targets : targets.slice(0, 1);
      if (selected.length === 0) {
        if (statement.upsert !== true) return { n: 0, nModified: 0 };
        const doc = upsertDocument(ctx.member.store.ensureCollection(ctx.db, name).collection, query, u, env);
        return { n: 1, nModified: 0, upserted: doc._id };
      }
      let modified = 0;
      for (const before of selected) if (updateStored(collection!, before, u, env)) modified += 1;
      return { n: selected.length, nModified: modified };
    });
    n += outcome.n as number;
    nModified += outcome.nModified as number;
    if (outcome.upserted !== undefined) upserted.push({ index, _id: outcome.upserted });
  });
  const reply: Document = { n, nModified };
  if (upserted.length > 0) reply.upserted = upserted;
  reply.ok = 1;
  return withWriteErrors(reply, errors);
}

function remove(cmd: Document, ctx: CommandContext): Document {
  const name = collectionNameArg(cmd, 'delete', ctx);
  const statements = documentArray(cmd, 'deletes');
  const ordered = cmd.ordered !== false;
  for (const statement of statements) refuseStatementSort(statement, 'delete.deletes');
  const executor = new Statements(ctx, cmd);
  const variables = commandVariables(cmd, ctx);
  let n = 0;
  const errors = runStatements(statements, ordered, (statement, index) => {
    const query = optionalDocument(statement, 'q') ?? {};
    const limit = statement.limit;
    if (!isNumeric(limit) || (toNumber(limit) !== 0 && toNumber(limit) !== 1))
      throw failedToParse('The limit field in delete objects must be 0 or 1');
    n += executor.run(index, () => {
      const collection = ctx.member.store.collection(ctx.db, name);
      const targets = matchingDocuments(collection, query, undefined, variables);
      let deleted = 0;
      for (const doc of toNumber(limit) === 1 ? targets.slice(0, 1) : targets)
        if (collection!.delete(doc)) deleted += 1;
      return { n: deleted };
    }).n as number;
  });
  return withWriteErrors({ n, ok: 1 }, errors);
}

function findAndModify(cmd: Document, ctx: CommandContext): Document {
  return new Statements(ctx, cmd).run(0, () => findAndModifyOnce(cmd, ctx));
}

function findAndModifyOnce(cmd: Document, ctx: CommandContext): Document {
  const name = collectionNameArg(cmd, Object.keys(cmd)[0]!, ctx);
  const query = optionalDocument(cmd, 'query') ?? {};
  const remove = cmd.remove === true;
  const upd = cmd.update;
  if (remove && upd !== undefined) throw failedToParse('Cannot specify both an update and remove=true');
  if (!remove && upd === undefined) throw failedToParse('Either an update or remove=true must be specified');
  if (remove && cmd.upsert === true) throw failedToParse('Cannot specify both upsert=true and remove=true');
  if (!remove) validateUpdate(upd);
  const variables = commandVariables(cmd, ctx);
  const env = { variables, arrayFilters: compileArrayFilters(cmd.arrayFilters), write: writeOptions(cmd) };
  const project = compileProjection(cmd.fields, { find: true });
  const collection = ctx.member.store.collection(ctx.db, name);
  const [target] = matchingDocuments(collection, query, cmd.sort, variables);
  const shaped = (doc: Document | undefined) => (doc ? project(doc) : null);

  if (remove) {
    if (target) collection!.delete(target);
    return { lastErrorObject: { n: target ? 1 : 0 }, value: shaped(target), ok: 1 };
  }
  const update = upd as Document | Document[];
  if (!target) {
    if (cmd.upsert !== true) return { lastErrorObject: { n: 0, updatedExisting: false }, value: null, ok: 1 };
    const doc = upsertDocument(ctx.member.store.ensureCollection(ctx.db, name).collection, query, update, env);
    return {
      lastErrorObject: { n: 1, updatedExisting: false, upserted: doc._id },
      value: cmd.new === true ? shaped(doc) : null,
      ok: 1,
    };
  }
  const after = updateStored(collection!, target, update, env) ?? target;
  return { lastErrorObject: { n: 1, updatedExisting: true }, value: shaped(cmd.new === true ? after : target), ok: 1 };
}

export const writeCommands: Record<string, CommandSpec> = {
  insert: { handler: insert, write: true, retryableWrite: true },
  update: { handler: update, write: true, retryableWrite: true },
  delete: { handler: remove, write: true, retryableWrite: true },
  findAndModify: { handler: findAndModify, write: true, retryableWrite: true },
  findandmodify: { handler: findAndModify, write: true, retryableWrite: true },
};
