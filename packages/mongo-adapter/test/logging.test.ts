import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import {
  closeClients,
  connect,
  onStandIn,
  record,
  startCluster,
  startMongo,
  waitFor,
  type Mongo,
  type Node,
} from './support.js';

/**
 * Logs follow the project's convention: context bound once (`{ node, component }` in a pino child), a
 * `debug` level that traces a message's path, and nothing logged twice.
 */

interface Line {
  level: number;
  msg: string;
  node?: string;
  component?: string;
  [key: string]: unknown;
}

function capture(level: 'debug' | 'info'): { logger: pino.Logger; lines: Line[] } {
  const lines: Line[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const text of chunk.toString().split('\n')) if (text) lines.push(JSON.parse(text) as Line);
      done();
    },
  });
  return { logger: pino({ level }, stream), lines };
}

let mongo: Mongo | undefined;
let nodes: Node[] = [];

afterEach(async () => {
  closeClients();
  await Promise.all(nodes.map((node) => node.close()));
  nodes = [];
  await mongo?.stop();
  mongo = undefined;
});

describe('logging', () => {
  it('binds node and component once per part, and traces a message from outbox to delivery at debug', async () => {
    mongo = await startMongo();
    const { logger, lines } = capture('debug');
    nodes = await startCluster(mongo, 2, { adapter: { logger } });
    const [a, b] = nodes as [Node, Node];
    const client = await connect(b);
    const got = record<string>(client, 'traced');
    a.io.emit('traced', 'x');
    await waitFor('delivered', () => got.length === 1);
    const nodeA = a.adapter().health().node;
    const nodeB = b.adapter().health().node;
    // Every line carries the adapter uid and the component that wrote it.
    for (const line of lines) {
      expect(line.uid, line.msg).toMatch(/^[0-9a-f]{16}$/);
      expect(line.component, line.msg).toMatch(/^mongo-adapter:/);
    }
    const path = (node: string, component: string, msg: string) =>
      lines.some((line) => line.uid === node && line.component === `mongo-adapter:${component}` && line.msg === msg);
    expect(path(nodeA, 'outbox', 'batch sent')).toBe(true);
    expect(path(nodeA, 'outbox', 'batch written')).toBe(true);
    expect(path(nodeB, 'feed', 'events received')).toBe(true);
    expect(
      lines.some(
        (line) =>
          line.uid === nodeB &&
          line.component === 'mongo-adapter:adapter' &&
          line.msg === 'delivering' &&
          line.origin === nodeA,
      ),
    ).toBe(true);
  });

  it('is silent at info while nothing happens but the change stream opening', async () => {
    mongo = await startMongo();
    const { logger, lines } = capture('info');
    nodes = await startCluster(mongo, 1, { adapter: { logger } });
    const client = await connect(nodes[0]!);
    const got = record<string>(client, 'm');
    for (let i = 0; i < 20; i++) nodes[0]!.io.emit('m', 'x');
    await waitFor('delivered', () => got.length === 20);
    expect(lines.map((line) => line.msg)).toEqual(['change stream state']);
  });

  (onStandIn ? it : it.skip)('logs a gap once per node, as an error with its range', async () => {
    mongo = await startMongo();
    const { logger, lines } = capture('info');
    nodes = await startCluster(mongo, 1, { adapter: { logger } });
    mongo.standIn!.faults.pauseChangeEvents();
    nodes[0]!.io.emit('m', 'lost');
    await new Promise((resolve) => setTimeout(resolve, 50));
    mongo.standIn!.faults.loseHistory();
    mongo.standIn!.faults.dropConnections();
    mongo.standIn!.faults.resumeChangeEvents();
    await waitFor('the gap', () => nodes[0]!.adapter().health().counters.gaps === 1);
    const gapLines = lines.filter((line) => line.msg.includes('missing'));
    expect(gapLines).toHaveLength(1);
    expect(gapLines[0]).toMatchObject({ level: 50, component: 'mongo-adapter:feed', reason: 'history-lost' });
    expect(typeof gapLines[0]!.from).toBe('string');
  });
});
