/**
 * What the stand-in did, for tests to assert that a fault really happened (and how often).
 * A live object: read fields at any time; `reset()` on the handle zeroes them.
 */
export interface StandInCounters {
  /** TCP connections accepted. */
  connectionsAccepted: number;
  /** TCP connections currently open. */
  connectionsOpen: number;
  /** Connections closed by a fault: dropConnections(), restart(), stop(), or a failCommand with closeConnection. */
  connectionsDropped: number;
  /** Commands received (including failed ones). */
  commands: number;
  /** Commands received, by command name. */
  commandsByName: Record<string, number>;
  /** Commands failed by failCommands() / configureFailPoint. */
  commandsFailed: number;
  /** Times stepDown() was applied. */
  stepDowns: number;
  /** Commands rejected because the node was stepped down (NotWritablePrimary / NotPrimaryNoSecondaryOk). */
  rejectedWhileSteppedDown: number;
  /** ChangeStreamHistoryLost (286) errors returned. */
  historyLost: number;
  /** ChangeStreamFatalError (280) errors returned for a resume token that names no write in the oplog. */
  resumeTokensNotFound: number;
  /** Times loseHistory() was applied. */
  historyLosses: number;
  /** Change events returned to clients (in firstBatch/nextBatch). */
  eventsDelivered: number;
  /** Change streams opened (aggregate with $changeStream). */
  changeStreamsOpened: number;
  /** Change streams opened with resumeAfter / startAfter / startAtOperationTime. */
  changeStreamsResumed: number;
  /** Write replies held back by setWriteLatency(). */
  writesDelayed: number;
  /** Times pauseChangeEvents() took effect. */
  changeEventPauses: number;
  /** Completed restart() calls. */
  restarts: number;
  /** Frames that could not be parsed (answered with an error, or the connection closed). */
  malformedMessages: number;
  /** Documents deleted by the TTL monitor. */
  ttlDeletes: number;
  /** Documents removed from capped collections to respect size/max. */
  cappedDeletes: number;
  /** Retryable writes answered from the session's record instead of being applied twice. */
  retriedWritesDeduplicated: number;
  /** Change-stream getMores that failed with BSONObjectTooLarge (10334). */
  eventsTooLarge: number;
  // Replica set (replica-set.ts, replication.ts, write-concern.ts):
  /** Times faults.failover() was applied. */
  failovers: number;
  /** Primaries elected (after a failover, a step-down, a restart). */
  elections: number;
  /** Members that rolled back writes a new primary never had. */
  rollbacks: number;
  /** Oplog entries undone by rollbacks (writes, including catalog changes and no-ops). */
  entriesRolledBack: number;
  /** Oplog entries applied by secondaries. */
  entriesReplicated: number;
  /** Write replies that carried a writeConcernError (any code). */
  writeConcernErrors: number;
  /** Of those, the ones that timed out (64, `errInfo.wtimeout: true`). */
  writeConcernTimeouts: number;
  /** Periodic no-op writes made by an idle primary. */
  noopWrites: number;
  /** TTL monitor passes run on the primary. */
  ttlPasses: number;
  /**
   * TTL index entries the monitor read: the expired documents (plus entries gone stale since), never the rest
   * of the collection.
   */
  ttlEntriesExamined: number;
}

export function newCounters(): StandInCounters {
  return {
    connectionsAccepted: 0,
    connectionsOpen: 0,
    connectionsDropped: 0,
    commands: 0,
    commandsByName: {},
    commandsFailed: 0,
    stepDowns: 0,
    rejectedWhileSteppedDown: 0,
    historyLost: 0,
    resumeTokensNotFound: 0,
    historyLosses: 0,
    eventsDelivered: 0,
    changeStreamsOpened: 0,
    changeStreamsResumed: 0,
    writesDelayed: 0,
    changeEventPauses: 0,
    restarts: 0,
    malformedMessages: 0,
    ttlDeletes: 0,
    cappedDeletes: 0,
    retriedWritesDeduplicated: 0,
    eventsTooLarge: 0,
    failovers: 0,
    elections: 0,
    rollbacks: 0,
    entriesRolledBack: 0,
    entriesReplicated: 0,
    writeConcernErrors: 0,
    writeConcernTimeouts: 0,
    noopWrites: 0,
    ttlPasses: 0,
    ttlEntriesExamined: 0,
  };
}

export function resetCounters(counters: StandInCounters): void {
  const open = counters.connectionsOpen;
  Object.assign(counters, newCounters(), { connectionsOpen: open });
}
