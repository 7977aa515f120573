import { MongoStandIn } from '@switchyard/mongo-standin';
import { serveCommands } from '../harness/child-runtime.js';
import type { StandInCommands } from '../harness/ipc.js';

/**
 * Child entry: the project's MongoDB stand-in, in its own process so its CPU is measured apart. Its TTL
 * monitor sweeps every collection; mongod's runs every 60 s, so a fast one would add pauses mongod does not
 * have to the latency figures: run it once an hour here.
 */
const standIn = await MongoStandIn.start({ ttlMonitorIntervalMs: 3_600_000 });

serveCommands<StandInCommands>(
  {
    counters: () => structuredClone(standIn.counters),
    'counters.reset': () => {
      standIn.resetCounters();
      return true;
    },
  },
  { uri: standIn.uri },
);
