import { MongoStandIn } from '@switchyard/mongo-standin';
import { serveCommands } from '../harness/child-runtime.js';
import type { StandInCommands } from '../harness/ipc.js';

/** Child entry: the project's MongoDB stand-in, in its own process so its CPU is measured apart. */
const standIn = await MongoStandIn.start();

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
