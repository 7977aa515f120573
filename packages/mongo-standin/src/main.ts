/**
 * Runs a stand-in as its own process (for benchmarks, docker compose, manual poking):
 *   node --conditions=@switchyard/source --import tsx packages/mongo-standin/src/main.ts --port 27017
 * Prints one JSON line `{"uri":"mongodb://..."}` once listening; stops on SIGINT/SIGTERM.
 */
import { parseArgs } from 'node:util';
import { MongoStandIn } from './server.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    'advertised-host': { type: 'string' },
    'replica-set': { type: 'string', default: 'rs0' },
    'oplog-size': { type: 'string' },
  },
});

const mongo = await MongoStandIn.start({
  port: Number(values.port),
  host: values.host,
  advertisedHost: values['advertised-host'],
  replicaSetName: values['replica-set'],
  oplogSize: values['oplog-size'] === undefined ? undefined : Number(values['oplog-size']),
});
process.stdout.write(`${JSON.stringify({ uri: mongo.uri, port: mongo.port })}\n`);

const shutdown = () => {
  void mongo.stop().then(() => process.exit(0));
};
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
