import type { ReplicaSetMember } from './member.js';
import type { Store } from './store.js';

/** Makes `target` hold exactly `source`'s collections, definitions and documents (documents are shared, never mutated). */
export function copyData(source: Store, target: Store): void {
  target.clear();
  for (const collection of source.allCollections()) {
    const copy = target.applyCatalog(collection.catalogSnapshot());
    for (const doc of collection.all()) copy.applyPut(doc);
  }
}

/**
 * Rolls `member` back to where its history and the new primary's meet (https://www.mongodb.com/docs/manual/core/replica-set-rollbacks/):
 * the entries after that point are removed from its oplog and their effects undone. mongod writes the undone
 * documents to rollback files and, since 4.2, kills every user operation in progress when a member enters
 * ROLLBACK; here the data becomes the new primary's at that point, open cursors are killed and operations in
 * progress fail with InterruptedDueToReplStateChange (11602). Change streams never showed the undone writes:
 * they were never majority-committed. Returns how many entries were undone.
 */
export function rollBack(member: ReplicaSetMember, newPrimary: ReplicaSetMember): number {
  const common = newPrimary.lastApplied;
  const undone = member.oplog.truncateAfter(common);
  member.interruptions += 1;
  member.cursors.killAll();
  copyData(newPrimary.store, member.store);
  member.lastApplied = common;
  member.lastAppliedWall = newPrimary.lastAppliedWall;
  member.ttlIndexes.reset();
  member.counters.rollbacks += 1;
  member.counters.entriesRolledBack += undone;
  return undone;
}
