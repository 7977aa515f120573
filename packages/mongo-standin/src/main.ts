/**
 * Runs a stand-in as its own process (for benchmarks, docker compose, manual poking):
 *   node --conditions=@switchyard/source --import tsx packages/mongo-standin/src/main.ts --port 27017
 * Prints one JSON line `{"uri":"mongodb://...","port":...,"ports":[...]}` once every member listens; stops on
 * SIGINT/SIGTERM. `--members 3` runs a three-member replica set on `--port`, `--port + 1`, `--port + 2`.
 */
import { parseArgs } from 'node:util';
import { StandInError } from './errors.js';
import { MongoStandIn } from './server.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    'advertised-host': { type: 'string' },
    'replica-set': { type: 'string', default: 'rs0' },
    members: { type: 'string', default: '1' },
    'oplog-size': { type: 'string' },
  },
});

let mongo: MongoStandIn;
try {
  mongo = await MongoStandIn.start({
    port: Number(values.port),
    host: values.host,
    advertisedHost: values['advertised-host'],
    replicaSetName: values['replica-set'],
    members: Number(values.members),
    oplogSize: values['oplog-size'] === undefined ? undefined : Number(values['oplog-size']),
  });
} catch (err) {
  if (!(err instanceof StandInError)) throw err;
  process.stderr.write(`${JSON.stringify({ error: err.code, message: err.message })}\n`);
  process.exit(2);
}
const ports = mongo.members.map((m) => m.port);
process.stdout.write(`${JSON.stringify({ uri: mongo.uri, port: mongo.port, ports })}\n`);

const shutdown = () => {
  void mongo.stop().then(() => process.exit(0));
};
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
