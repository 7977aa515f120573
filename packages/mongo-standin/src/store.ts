import { BSON, ObjectId, UUID, type Document } from 'bson';
import { badValue, CommandError, ErrorCodes } from './errors.js';
import type { CatalogSnapshot, DdlEvent, Oplog } from './oplog.js';
import { compileFilter, type Matcher } from './query/match.js';
import { valuesAtPath } from './query/paths.js';
import { canonicalKey, isPlainObject, toNumber, valuesEqual } from './query/values.js';
import type { UpdateDescription } from './query/update-description.js';

/** MongoDB's limit on a user document. */
export const MAX_BSON_OBJECT_SIZE = 16 * 1024 * 1024;

export interface IndexSpec {
  v: number;
  key: Document;
  name: string;
  unique?: boolean;
  sparse?: boolean;
  expireAfterSeconds?: number;
  partialFilterExpression?: Document;
  [option: string]: unknown;
}

interface StoredDocument {
  doc: Document;
  bytes: number;
}

/** An index: its spec, and for unique indexes the key → document-id map that enforces uniqueness. */
class Index {
  readonly keyed = new Map<string, string>();
  private readonly partial: Matcher | undefined;

  constructor(readonly spec: IndexSpec) {
    this.partial = spec.partialFilterExpression ? compileFilter(spec.partialFilterExpression) : undefined;
  }

  get enforcesUniqueness(): boolean {
    return this.spec.unique === true || this.spec.name === '_id_';
  }

  /** The key of `doc` in this index, or undefined when the index does not cover it (sparse/partial). */
  keyOf(doc: Document): { key: string; keyValue: Document } | undefined {
    if (this.partial && !this.partial(doc)) return undefined;
    const keyValue: Document = {};
    let present = false;
    for (const path of Object.keys(this.spec.key)) {
      const values = valuesAtPath(doc, path).filter((v) => v !== undefined);
      if (values.length > 0) present = true;
      keyValue[path] = values.length === 0 ? null : values.length === 1 ? values[0] : values;
    }
    if (this.spec.sparse && !present) return undefined;
    return { key: canonicalKey(Object.values(keyValue)), keyValue };
  }
}

export interface CollectionOptions {
  capped?: boolean;
  size?: number;
  max?: number;
  [option: string]: unknown;
}

function duplicateKeyError(ns: string, index: Index, keyValue: Document): CommandError {
  const shown = Object.entries(keyValue)
    .map(
      ([k, v]) =>
        `${k}: ${typeof v === 'string' ? JSON.stringify(v) : v instanceof ObjectId ? `ObjectId('${v.toHexString()}')` : JSON.stringify(v)}`,
    )
    .join(', ');
  return new CommandError(
    ErrorCodes.DuplicateKey,
    `E11000 duplicate key error collection: ${ns} index: ${index.spec.name} dup key: { ${shown} }`,
    {
      extra: { keyPattern: { ...index.spec.key }, keyValue },
    },
  );
}

/** Options of a write that change how it is checked. */
export interface WriteOptions {
  bypassDocumentValidation?: boolean;
  /** The committed transaction the write belongs to (its change events carry `lsid` and `txnNumber`). */
  transaction?: { lsid: Document; txnNumber: number };
}

/** A validator: the reason a document fails it (mongod's errInfo.details), or undefined when it passes. */
type DocumentValidator = (doc: Document) => Document | undefined;

function compileValidator(validator: unknown): DocumentValidator {
  const clauses = isPlainObject(validator) ? Object.entries(validator) : [];
  const compiled = clauses.map(([key, value]) => [key, value, compileFilter({ [key]: value })] as const);
  return (doc) => {
    const failed = compiled.filter(([, , matches]) => !matches(doc));
    if (failed.length === 0) return undefined;
    const describe = ([key, value]: readonly [string, unknown, unknown]): Document => {
      const operatorName = key.startsWith('$')
        ? key
        : isPlainObject(value) && Object.keys(value)[0]?.startsWith('$')
          ? Object.keys(value)[0]!
          : '$eq';
      return { operatorName, specifiedAs: { [key]: value }, reason: 'expression did not match' };
    };
    if (compiled.length === 1) return describe(failed[0]!);
    return {
      operatorName: '$and',
      clausesNotSatisfied: failed.map((clause) => ({ index: compiled.indexOf(clause), details: describe(clause) })),
    };
  };
}

/** mongod's checks of an `_id` value (InvalidIdField, 53). */
function checkId(id: unknown): void {
  if (Array.isArray(id)) throw new CommandError(ErrorCodes.InvalidIdField, "can't use an array for _id");
  if (id instanceof RegExp || (id as { _bsontype?: string })?._bsontype === 'BSONRegExp') {
    throw new CommandError(ErrorCodes.InvalidIdField, "can't use a regex for _id");
  }
  if (isPlainObject(id)) {
    for (const key of Object.keys(id)) {
      if (key.startsWith('$')) {
        throw new CommandError(
          ErrorCodes.InvalidIdField,
          `_id fields may not contain '$'-prefixed fields: ${key} is not valid for storage.`,
        );
      }
    }
  }
}

export function bsonSize(doc: Document): number {
  return BSON.calculateObjectSize(doc);
}

/**
 * One collection: documents in insertion order (natural order), its indexes, capped bounds.
 * Every mutation is written to the oplog so change streams see it. Stored documents are never mutated
 * in place (updates replace them), so cursors and oplog entries can share them safely.
 */
export class Collection {
  /** Set from the primary's catalog entry on secondaries (replication keeps a collection's UUID). */
  uuid = new UUID();
  private docs = new Map<string, StoredDocument>();
  /** Time series collections key documents by arrival, not `_id`. */
  private nextTimeseriesKey = 0;
  private indexes: Index[];
  private bytes = 0;
  readonly options: CollectionOptions;

  private validate: DocumentValidator | undefined;
  private validatorSource: unknown;

  constructor(
    /** Changed only by a rename. */
    public db: string,
    public name: string,
    options: CollectionOptions,
    private readonly oplog: Oplog,
    private readonly onCappedDelete: () => void = () => {},
  ) {
    this.options = { ...options };
    if (options.capped) {
      const size = toNumber(options.size);
      if (!(size > 0)) throw badValue("the 'size' field is required when 'capped' is true");
      // mongod rounds a capped size up to a multiple of 256 bytes, minimum 4096.
      this.options.size = Math.max(4096, Math.ceil(size / 256) * 256);
      if (options.max !== undefined) this.options.max = toNumber(options.max);
    }
    this.indexes = this.isView || this.isTimeseries ? [] : [new Index({ v: 2, key: { _id: 1 }, name: '_id_' })];
  }

  get ns(): string {
    return `${this.db}.${this.name}`;
  }

  get count(): number {
    return this.docs.size;
  }

  get dataSize(): number {
    return this.bytes;
  }

  get isCapped(): boolean {
    return this.options.capped === true;
  }

  /** A view (`viewOn` + `pipeline`): no documents of its own (https://www.mongodb.com/docs/manual/core/views/). */
  get isView(): boolean {
    return typeof this.options.viewOn === 'string';
  }

  /** A time series collection: `_id`s need not be unique (https://www.mongodb.com/docs/manual/core/timeseries-collections/). */
  get isTimeseries(): boolean {
    return isPlainObject(this.options.timeseries);
  }

  /** `changeStreamPreAndPostImages: { enabled: true }`: change streams can show pre- and post-images. */
  get recordsImages(): boolean {
    const setting = this.options.changeStreamPreAndPostImages;
    return isPlainObject(setting) && setting.enabled === true;
  }

  private refuseOnView(): void {
    if (this.isView) {
      throw new CommandError(ErrorCodes.CommandNotSupportedOnView, `Namespace ${this.ns} is a view, not a collection`);
    }
  }

  /**
   * Document validation (https://www.mongodb.com/docs/manual/core/schema-validation/): a write that fails the
   * validator with `validationAction: 'error'` fails with DocumentValidationFailure (121) and `errInfo`;
   * `validationLevel: 'moderate'` does not check updates of documents that were already invalid.
   */
  private checkValid(doc: Document, before: Document | undefined, options: WriteOptions): void {
    if (options.bypassDocumentValidation === true) return;
    const level = this.options.validationLevel ?? 'strict';
    if (this.options.validator === undefined || level === 'off') return;
    if (this.options.validationAction === 'warn') return;
    if (this.validatorSource !== this.options.validator) {
      this.validate = compileValidator(this.options.validator);
      this.validatorSource = this.options.validator;
    }
    const failure = this.validate!(doc);
    if (!failure) return;
    if (before !== undefined && level === 'moderate' && this.validate!(before)) return;
    throw new CommandError(ErrorCodes.DocumentValidationFailure, 'Document failed validation', {
      extra: { errInfo: { failingDocumentId: doc._id, details: failure } },
    });
  }

  /** Documents in natural (insertion) order. */
  all(): Document[] {
    return Array.from(this.docs.values(), (s) => s.doc);
  }

  /**
   * Documents stored after the one whose storage key is `after` (all of them without it), in natural order,
   * with their keys: what a tailable cursor reads next. Undefined when `after` is gone (a capped collection
   * rolled over it).
   */
  documentsAfter(after: string | undefined): Array<{ key: string; doc: Document }> | undefined {
    if (after !== undefined && !this.docs.has(after)) return undefined;
    const out: Array<{ key: string; doc: Document }> = [];
    let passed = after === undefined;
    for (const [key, stored] of this.docs) {
      if (passed) out.push({ key, doc: stored.doc });
      else if (key === after) passed = true;
    }
    return out;
  }

  get(id: unknown): Document | undefined {
    if (this.isTimeseries) return this.all().find((doc) => valuesEqual(doc._id, id));
    return this.docs.get(canonicalKey(id))?.doc;
  }

  indexSpecs(): IndexSpec[] {
    return this.indexes.map((i) => i.spec);
  }

  ttlIndexes(): IndexSpec[] {
    return this.indexes.map((i) => i.spec).filter((s) => typeof s.expireAfterSeconds === 'number');
  }

  private checkUnique(doc: Document, exceptId: string | undefined): Array<[Index, string]> {
    const keys: Array<[Index, string]> = [];
    for (const index of this.indexes) {
      if (!index.enforcesUniqueness) continue;
      const k = index.keyOf(doc);
      if (!k) continue;
      const owner = index.keyed.get(k.key);
      if (owner !== undefined && owner !== exceptId) throw duplicateKeyError(this.ns, index, k.keyValue);
      keys.push([index, k.key]);
    }
    return keys;
  }

  private unindex(doc: Document): void {
    for (const index of this.indexes) {
      if (!index.enforcesUniqueness) continue;
      const k = index.keyOf(doc);
      if (k) index.keyed.delete(k.key);
    }
  }

  insert(doc: Document, options: WriteOptions = {}): void {
    this.refuseOnView();
    if (doc._id === undefined) doc = { _id: new ObjectId(), ...doc };
    checkId(doc._id);
    const bytes = bsonSize(doc);
    if (bytes > MAX_BSON_OBJECT_SIZE) {
      throw new CommandError(
        ErrorCodes.BadValue,
        `object to insert too large. size in bytes: ${bytes}, max size: ${MAX_BSON_OBJECT_SIZE}`,
      );
    }
    if (this.isCapped && bytes > (this.options.size as number)) {
      throw new CommandError(ErrorCodes.BadValue, 'object to insert exceeds cappedMaxSize');
    }
    this.checkValid(doc, undefined, options);
    const id = this.isTimeseries ? `ts${this.nextTimeseriesKey++}` : canonicalKey(doc._id);
    for (const [index, key] of this.checkUnique(doc, undefined)) index.keyed.set(key, id);
    this.docs.set(id, { doc, bytes });
    this.bytes += bytes;
    this.oplog.append({
      op: 'insert',
      db: this.db,
      coll: this.name,
      uuid: this.uuid,
      documentKey: { _id: doc._id },
      document: doc,
      ...(options.transaction ? { transaction: options.transaction } : {}),
      bytes,
    });
    this.enforceCap();
  }

  /** Replaces a stored document by a new version (same `_id`), as an update or a replacement. */
  replace(
    before: Document,
    after: Document,
    description: UpdateDescription | undefined,
    options: WriteOptions = {},
  ): void {
    this.refuseOnView();
    const id = this.keyOf(before);
    const stored = id === undefined ? undefined : this.docs.get(id);
    if (id === undefined || !stored) return;
    const bytes = bsonSize(after);
    if (bytes > MAX_BSON_OBJECT_SIZE) {
      throw new CommandError(
        ErrorCodes.BSONObjectTooLarge,
        `Resulting document after update is larger than ${MAX_BSON_OBJECT_SIZE}`,
      );
    }
    this.checkValid(after, before, options);
    const keys = this.checkUnique(after, id);
    this.unindex(before);
    for (const [index, key] of keys) index.keyed.set(key, id);
    this.docs.set(id, { doc: after, bytes });
    this.bytes += bytes - stored.bytes;
    this.oplog.append({
      op: description ? 'update' : 'replace',
      db: this.db,
      coll: this.name,
      uuid: this.uuid,
      documentKey: { _id: after._id },
      document: after,
      preImage: before,
      ...(description ? { updateDescription: { ...description } } : {}),
      ...(this.recordsImages ? { imagesRecorded: true } : {}),
      ...(options.transaction ? { transaction: options.transaction } : {}),
      bytes,
    });
  }

  delete(doc: Document, options: WriteOptions = {}): boolean {
    this.refuseOnView();
    const id = this.keyOf(doc);
    const stored = id === undefined ? undefined : this.docs.get(id);
    if (id === undefined || !stored) return false;
    this.unindex(stored.doc);
    this.docs.delete(id);
    this.bytes -= stored.bytes;
    this.oplog.append({
      op: 'delete',
      db: this.db,
      coll: this.name,
      uuid: this.uuid,
      documentKey: { _id: stored.doc._id },
      preImage: stored.doc,
      ...(this.recordsImages ? { imagesRecorded: true } : {}),
      ...(options.transaction ? { transaction: options.transaction } : {}),
      bytes: stored.bytes,
    });
    return true;
  }

  /** The storage key of a stored document (by `_id`, or by identity in a time series collection). */
  private keyOf(doc: Document): string | undefined {
    if (!this.isTimeseries) return canonicalKey(doc._id);
    for (const [key, stored] of this.docs) if (stored.doc === doc) return key;
    return undefined;
  }

  private enforceCap(): void {
    if (!this.isCapped) return;
    const max = this.options.max;
    const size = this.options.size as number;
    while (this.docs.size > 1 && ((max !== undefined && max > 0 && this.docs.size > max) || this.bytes > size)) {
      const oldest = this.docs.values().next().value as StoredDocument;
      this.delete(oldest.doc);
      this.onCappedDelete();
    }
  }

  /** Adds an index, building its keys over existing documents. Returns false when an identical one exists. */
  createIndex(spec: IndexSpec): boolean {
    const sameName = this.indexes.find((i) => i.spec.name === spec.name);
    const sameKey = this.indexes.find((i) => canonicalKey(i.spec.key) === canonicalKey(spec.key));
    if (sameName && canonicalKey(sameName.spec.key) !== canonicalKey(spec.key)) {
      throw new CommandError(
        ErrorCodes.IndexKeySpecsConflict,
        `An existing index has the same name as the requested index. When index names are not specified, they are auto generated and can cause conflicts. Please refer to our documentation. Requested index: ${JSON.stringify(spec)}, existing index: ${JSON.stringify(sameName.spec)}`,
      );
    }
    if (sameKey) {
      const optionsOf = (s: IndexSpec) =>
        canonicalKey({
          unique: Boolean(s.unique),
          sparse: Boolean(s.sparse),
          ttl: s.expireAfterSeconds ?? null,
          partial: s.partialFilterExpression ?? null,
        });
      if (optionsOf(sameKey.spec) !== optionsOf(spec)) {
        throw new CommandError(
          ErrorCodes.IndexOptionsConflict,
          `An equivalent index already exists with the same name but different options. Requested index: ${JSON.stringify(spec)}, existing index: ${JSON.stringify(sameKey.spec)}`,
        );
      }
      if (sameKey.spec.name !== spec.name) {
        throw new CommandError(
          ErrorCodes.IndexOptionsConflict,
          `Index already exists with a different name: ${sameKey.spec.name}`,
        );
      }
      return false;
    }
    const index = new Index(spec);
    if (index.enforcesUniqueness) {
      for (const [id, stored] of this.docs) {
        const k = index.keyOf(stored.doc);
        if (!k) continue;
        if (index.keyed.has(k.key)) throw duplicateKeyError(this.ns, index, k.keyValue);
        index.keyed.set(k.key, id);
      }
    }
    this.indexes.push(index);
    this.logCatalog({ operationType: 'createIndexes', operationDescription: { indexes: [{ ...spec }] } });
    return true;
  }

  dropIndex(name: string): void {
    if (name === '_id_') throw new CommandError(ErrorCodes.InvalidOptions, 'cannot drop _id index');
    const at = this.indexes.findIndex((i) => i.spec.name === name);
    if (at < 0) throw new CommandError(ErrorCodes.IndexNotFound, `index not found with name [${name}]`);
    const [dropped] = this.indexes.splice(at, 1);
    this.logCatalog({ operationType: 'dropIndexes', operationDescription: { indexes: [{ ...dropped!.spec }] } });
  }

  /** Drops every index but `_id`'s, one catalog entry (and dropIndexes event) each, as mongod logs them. */
  dropAllIndexes(): void {
    for (const index of this.indexes.filter((i) => i.spec.name !== '_id_')) this.dropIndex(index.spec.name);
  }

  indexNameForKey(key: Document): string | undefined {
    return this.indexes.find((i) => canonicalKey(i.spec.key) === canonicalKey(key))?.spec.name;
  }

  /**
   * Changes options of an existing index in place, as collMod does: a TTL expiry (the TTL monitor reads
   * it on its next pass) or the hidden flag (false removes the field, as mongod does).
   */
  updateIndexOptions(name: string, options: { expireAfterSeconds?: number; hidden?: boolean }): void {
    const index = this.indexes.find((i) => i.spec.name === name);
    if (!index) throw new CommandError(ErrorCodes.IndexNotFound, `index not found with name [${name}]`);
    if (options.expireAfterSeconds !== undefined) index.spec.expireAfterSeconds = options.expireAfterSeconds;
    if (options.hidden === true) index.spec.hidden = true;
    if (options.hidden === false) delete index.spec.hidden;
  }

  /**
   * collMod: sets (or, with undefined, removes) collection options, then records the change as one catalog
   * entry, the 'modify' event of showExpandedEvents streams.
   */
  modify(options: Document, ddl: DdlEvent): void {
    for (const [key, value] of Object.entries(options)) {
      if (value === undefined) delete this.options[key];
      else this.options[key] = value;
    }
    this.logCatalog(ddl);
  }

  // Replication (replication.ts, rollback.ts): the primary records each catalog change as an entry carrying the
  // collection's new definition; secondaries set documents and definitions exactly as the primary's entries
  // say, without checks, oplog entries of their own or capped deletes (those arrive as entries too).

  /** The collection's definition now: what a catalog entry carries. */
  catalogSnapshot(): CatalogSnapshot {
    return {
      db: this.db,
      coll: this.name,
      uuid: this.uuid,
      options: { ...this.options },
      indexes: this.indexes.map((i) => ({ ...i.spec, key: { ...i.spec.key } })),
    };
  }

  /**
   * Records the current definition in the oplog, so secondaries replicate it; with `ddl`, the entry is also the
   * change event showExpandedEvents streams show for it.
   */
  logCatalog(ddl?: DdlEvent): void {
    this.oplog.append({
      op: 'noop',
      db: this.db,
      coll: this.name,
      catalog: this.catalogSnapshot(),
      uuid: this.uuid,
      ...(ddl ? { ddl } : {}),
      bytes: 64,
    });
  }

  /** Makes this collection's definition the replicated one: options, and indexes added, changed or dropped. */
  applyCatalog(snapshot: CatalogSnapshot): void {
    this.uuid = snapshot.uuid;
    for (const key of Object.keys(this.options)) delete this.options[key];
    Object.assign(this.options, snapshot.options);
    const wanted = new Map(snapshot.indexes.map((spec) => [spec.name as string, spec as IndexSpec]));
    this.indexes = this.indexes.filter((index) => {
      const spec = wanted.get(index.spec.name);
      return spec !== undefined && canonicalKey(spec.key) === canonicalKey(index.spec.key);
    });
    for (const [name, spec] of wanted) {
      const existing = this.indexes.find((index) => index.spec.name === name);
      if (existing) {
        for (const key of Object.keys(existing.spec)) delete existing.spec[key];
        Object.assign(existing.spec, spec, { key: { ...spec.key } });
        continue;
      }
      const index = new Index({ ...spec, key: { ...spec.key } });
      if (index.enforcesUniqueness) {
        for (const [id, stored] of this.docs) {
          const k = index.keyOf(stored.doc);
          if (k) index.keyed.set(k.key, id);
        }
      }
      this.indexes.push(index);
    }
  }

  /** Stores a document version as the primary wrote it (insert, update or replace). */
  applyPut(doc: Document): void {
    const id = canonicalKey(doc._id);
    const previous = this.docs.get(id);
    if (previous) {
      this.unindex(previous.doc);
      this.bytes -= previous.bytes;
    }
    const bytes = bsonSize(doc);
    for (const index of this.indexes) {
      if (!index.enforcesUniqueness) continue;
      const k = index.keyOf(doc);
      if (k) index.keyed.set(k.key, id);
    }
    this.docs.set(id, { doc, bytes });
    this.bytes += bytes;
  }

  /** Removes a document as the primary did. */
  applyRemove(id: unknown): void {
    const key = canonicalKey(id);
    const stored = this.docs.get(key);
    if (!stored) return;
    this.unindex(stored.doc);
    this.docs.delete(key);
    this.bytes -= stored.bytes;
  }
}

/** The operationDescription of a 'create' event: mongod's create oplog entry without its `create` field. */
function createDescription(collection: Collection): Document {
  const { options } = collection;
  if (collection.isView) return { viewOn: options.viewOn, pipeline: options.pipeline ?? [] };
  const description: Document = {};
  for (const [key, value] of Object.entries(options)) if (value !== undefined) description[key] = value;
  if (!collection.isTimeseries && options.clusteredIndex === undefined) {
    description.idIndex = { v: 2, key: { _id: 1 }, name: '_id_' };
  }
  return description;
}

const RESERVED_DATABASES = new Set(['admin', 'local', 'config']);

export function validateCollectionName(db: string, name: unknown): string {
  if (
    typeof name !== 'string' ||
    name.length === 0 ||
    name.includes('$') ||
    name.includes('\0') ||
    name.startsWith('.')
  ) {
    throw new CommandError(ErrorCodes.InvalidNamespace, `Invalid collection name: ${db}.${String(name)}`);
  }
  return name;
}

/** All databases and collections of the node. */
export class Store {
  private readonly databases = new Map<string, Map<string, Collection>>();

  constructor(
    private readonly oplog: Oplog,
    private readonly onCappedDelete: () => void,
  ) {}

  collection(db: string, name: string): Collection | undefined {
    return this.databases.get(db)?.get(name);
  }

  /** Returns the collection, creating it implicitly (as any write does) when missing. */
  ensureCollection(db: string, name: string): { collection: Collection; created: boolean } {
    const existing = this.collection(db, name);
    if (existing?.isView) {
      throw new CommandError(
        ErrorCodes.CommandNotSupportedOnView,
        `Namespace ${db}.${name} is a view, not a collection`,
      );
    }
    if (existing) return { collection: existing, created: false };
    return { collection: this.createCollection(db, name, {}), created: true };
  }

  createCollection(db: string, name: string, options: CollectionOptions): Collection {
    validateCollectionName(db, name);
    if (db.length === 0 || /[/\\. "$\0]/.test(db))
      throw new CommandError(ErrorCodes.InvalidNamespace, `Invalid database name: '${db}'`);
    let collections = this.databases.get(db);
    if (!collections) {
      collections = new Map();
      this.databases.set(db, collections);
    }
    const collection = new Collection(db, name, options, this.oplog, this.onCappedDelete);
    collections.set(name, collection);
    collection.logCatalog({ operationType: 'create', operationDescription: createDescription(collection) });
    return collection;
  }

  /**
   * renameCollection (https://www.mongodb.com/docs/manual/reference/command/renameCollection/): the collection
   * keeps its documents, indexes and UUID under its new name; `dropTarget` drops an existing target first.
   * One oplog entry, the 'rename' change event (streams on the source or the target are invalidated).
   */
  renameCollection(db: string, from: string, toDb: string, to: string, dropTarget: boolean): void {
    const source = this.collection(db, from);
    if (!source) throw new CommandError(ErrorCodes.NamespaceNotFound, `Source collection ${db}.${from} does not exist`);
    if (source.isView) {
      throw new CommandError(ErrorCodes.CommandNotSupportedOnView, `cannot rename view: ${db}.${from}`);
    }
    validateCollectionName(toDb, to);
    if (db === toDb && from === to) {
      throw new CommandError(ErrorCodes.IllegalOperation, "Can't rename a collection to itself");
    }
    const target = this.collection(toDb, to);
    if (target && !dropTarget) throw new CommandError(ErrorCodes.NamespaceExists, 'target namespace exists');
    this.detach(db, from);
    if (target) this.detach(toDb, to);
    source.db = toDb;
    source.name = to;
    this.attach(source);
    this.oplog.append({
      op: 'rename',
      db,
      coll: from,
      uuid: source.uuid,
      to: { db: toDb, coll: to },
      ...(target ? { dropTarget: target.uuid } : {}),
      catalog: source.catalogSnapshot(),
      bytes: 64,
    });
  }

  /** Replication: the primary's rename, without an entry of its own. */
  applyRename(db: string, from: string, toDb: string, to: string): void {
    const source = this.collection(db, from);
    if (!source) return;
    this.detach(db, from);
    if (this.collection(toDb, to)) this.detach(toDb, to);
    source.db = toDb;
    source.name = to;
    this.attach(source);
  }

  private detach(db: string, name: string): void {
    const collections = this.databases.get(db);
    collections?.delete(name);
    if (collections?.size === 0) this.databases.delete(db);
  }

  private attach(collection: Collection): void {
    let collections = this.databases.get(collection.db);
    if (!collections) {
      collections = new Map();
      this.databases.set(collection.db, collections);
    }
    collections.set(collection.name, collection);
  }

  /** Replication: creates the collection if missing (without an oplog entry) and gives it the replicated definition. */
  applyCatalog(snapshot: CatalogSnapshot): Collection {
    let collections = this.databases.get(snapshot.db);
    if (!collections) {
      collections = new Map();
      this.databases.set(snapshot.db, collections);
    }
    let collection = collections.get(snapshot.coll);
    if (!collection) {
      collection = new Collection(snapshot.db, snapshot.coll, {}, this.oplog, this.onCappedDelete);
      collections.set(snapshot.coll, collection);
    }
    collection.applyCatalog(snapshot);
    return collection;
  }

  /** Replication: removes a collection without an oplog entry of its own. */
  applyDropCollection(db: string, name: string): void {
    const collections = this.databases.get(db);
    if (!collections?.delete(name)) return;
    if (collections.size === 0) this.databases.delete(db);
  }

  /** Replication: removes a database without oplog entries of its own. */
  applyDropDatabase(db: string): void {
    this.databases.delete(db);
  }

  /** Drops a collection; returns the number of indexes it had, or undefined when it did not exist. */
  dropCollection(db: string, name: string): number | undefined {
    const collection = this.collection(db, name);
    if (!collection) return undefined;
    const nIndexes = collection.indexSpecs().length;
    this.databases.get(db)!.delete(name);
    if (this.databases.get(db)!.size === 0) this.databases.delete(db);
    this.oplog.append({ op: 'drop', db, coll: name, uuid: collection.uuid, bytes: 64 });
    return nIndexes;
  }

  dropDatabase(db: string): boolean {
    const collections = this.databases.get(db);
    if (!collections) return false;
    for (const name of [...collections.keys()]) this.dropCollection(db, name);
    this.databases.delete(db);
    this.oplog.append({ op: 'dropDatabase', db, bytes: 64 });
    return true;
  }

  collections(db: string): Collection[] {
    return [...(this.databases.get(db)?.values() ?? [])];
  }

  databaseNames(): string[] {
    return [...this.databases.keys()];
  }

  allCollections(): Collection[] {
    return [...this.databases.values()].flatMap((m) => [...m.values()]);
  }

  isReserved(db: string): boolean {
    return RESERVED_DATABASES.has(db);
  }

  clear(): void {
    this.databases.clear();
  }
}

export function isPlainIndexKey(key: unknown): key is Document {
  return isPlainObject(key) && Object.keys(key).length > 0;
}
