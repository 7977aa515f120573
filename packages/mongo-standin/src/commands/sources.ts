import type { Document, Timestamp } from 'bson';
import { CommandError } from '../errors.js';
import { runPipeline } from '../pipeline.js';
import type { Variables } from '../query/expressions.js';
import type { ReplicaSetMember } from '../member.js';
import { documentsAt } from '../snapshots.js';
import type { Collection, Store } from '../store.js';

/** mongod's limit on views defined on views (ViewDepthLimitExceeded). */
const MAX_VIEW_DEPTH = 20;

export interface ResolvedNamespace {
  /** The collection the data comes from (undefined: it does not exist, reads see nothing). */
  collection: Collection | undefined;
  /** The views' pipelines, outermost last, to run over its documents. */
  pipeline: Document[];
  isView: boolean;
}

/**
 * What a read of `db.name` reads: a collection, or for a view (https://www.mongodb.com/docs/manual/core/views/)
 * the collection under its chain of views plus their pipelines, innermost first.
 */
export function resolveNamespace(store: Store, db: string, name: string): ResolvedNamespace {
  const pipelines: Document[][] = [];
  let current = store.collection(db, name);
  while (current?.isView) {
    if (pipelines.length >= MAX_VIEW_DEPTH) {
      throw new CommandError(149, `View depth too deep or view cycle detected; maximum depth is ${MAX_VIEW_DEPTH}`, {
        codeName: 'ViewDepthLimitExceeded',
      });
    }
    pipelines.unshift((current.options.pipeline as Document[] | undefined) ?? []);
    current = store.collection(db, current.options.viewOn as string);
  }
  return { collection: current, pipeline: pipelines.flat(), isView: pipelines.length > 0 };
}

/** The documents a read of `db.name` sees (a view's pipeline applied), in natural order. */
export function readableDocuments(
  store: Store,
  db: string,
  name: string,
  variables: Variables,
  snapshot?: { member: ReplicaSetMember; at: Timestamp },
): Document[] {
  const resolved = resolveNamespace(store, db, name);
  const docs = snapshot
    ? resolved.collection
      ? documentsAt(snapshot.member, db, resolved.collection.name, snapshot.at)
      : []
    : (resolved.collection?.all() ?? []);
  if (!resolved.isView) return docs;
  return runPipeline(docs, resolved.pipeline, {
    variables,
    collection: (other) => readableDocuments(store, db, other, variables, snapshot),
  });
}
