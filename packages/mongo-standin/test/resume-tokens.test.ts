import { MongoClient, MongoServerError, type ChangeStream, type Collection, type Document } from 'mongodb';
import { afterEach, describe, expect, it } from 'vitest';
import { MongoStandIn } from '../src/index.js';
import { eventTokenData } from '../src/resume-token.js';
import { clientOptions, collectEvents, insertedNumbers, openStream, waitFor } from './support.js';

/**
 * Resume tokens the stand-in never issued. mongod refuses a resume point older than its oplog with
 * ChangeStreamHistoryLost (286), and one inside the oplog's range that names no event with
 * ChangeStreamFatalError (280, "the resume token was not found"); both carry NonResumableChangeStreamError
 * (document_source_change_stream_check_resumability.cpp, ensure_resume_token_present.cpp). Tokens are
 * mongod's KeyString hex (resume_token.cpp), whose first 18 hex digits are '82' + the cluster time; the ones
 * made here name events at chosen times, so this file runs against the stand-in only.
 */
const AWAIT = { maxAwaitTimeMS: 50 };
const token = (seconds: number, increment: number, kind: 'event' | 'invalidate') => ({
  _data: eventTokenData(
    { t: seconds, i: increment },
    kind === 'event'
      ? { operationType: 'insert', documentKey: { _id: 'never written' } }
      : { operationType: 'drop', fromInvalidate: true },
  ),
});
/** A token a real mongod 6.0 issued for an insert in October 2022 (another deployment's). */
const FOREIGN_TOKEN = {
  _data:
    '82635019A0000000012B022C0100296E5A1004AB1154ACACD849A48C61756D70D3B21F463C6F7065726174696F6E54797065003C696E736572740046646F63756D656E744B657900461E5F6964002B02000004',
};
const timeOf = (event: Document) => {
  const data = (event._id as { _data: string })._data;
  return { seconds: Number.parseInt(data.slice(2, 10), 16), increment: Number.parseInt(data.slice(10, 18), 16) };
};

describe('resuming from a token the stand-in never issued', () => {
  let mongo: MongoStandIn;
  let client: MongoClient;
  let coll: Collection;
  const streams: ChangeStream[] = [];
  afterEach(async () => {
    for (const stream of streams.splice(0)) await stream.close().catch(() => undefined);
    await client?.close(true);
    await mongo?.stop();
  });

  async function setup(): Promise<ChangeStream> {
    mongo = await MongoStandIn.start();
    client = new MongoClient(mongo.uri, clientOptions);
    await client.connect();
    coll = client.db('tokens').collection('events');
    const stream = await openStream(() => coll.watch([], AWAIT));
    streams.push(stream);
    return stream;
  }

  async function failureOf(options: Document): Promise<MongoServerError> {
    const stream = coll.watch([], { ...AWAIT, ...options });
    streams.push(stream);
    const error = await stream.tryNext().then(
      () => expect.unreachable('the resume should have failed'),
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(MongoServerError);
    return error as MongoServerError;
  }

  it('fails with ChangeStreamHistoryLost (286) when the token is older than anything it issued', async () => {
    await setup();
    await coll.insertOne({ n: 1 });
    for (const option of ['resumeAfter', 'startAfter'] as const) {
      for (const old of [token(1, 1, 'event'), FOREIGN_TOKEN]) {
        const error = await failureOf({ [option]: old });
        expect(error).toMatchObject({ code: 286, codeName: 'ChangeStreamHistoryLost' });
        expect(error.hasErrorLabel('NonResumableChangeStreamError')).toBe(true);
      }
    }
    expect(mongo.counters.historyLost).toBe(4);
  });

  it('fails with ChangeStreamFatalError (280) when a token inside the oplog names no write', async () => {
    const stream = await setup();
    // Find two consecutive events a second apart: the increments after the last one of the first second
    // were never issued, yet they lie between two writes the oplog still holds.
    let previous: Document | undefined;
    let last: Document | undefined;
    let n = 0;
    await waitFor('two consecutive writes in different seconds', async () => {
      await coll.insertOne({ n: ++n });
      const [event] = await collectEvents(stream, 1);
      previous = last;
      last = event;
      return previous !== undefined && timeOf(previous).seconds !== timeOf(last!).seconds;
    });
    const before = timeOf(previous!);
    const never = token(before.seconds, before.increment + 1, 'event');

    for (const option of ['resumeAfter', 'startAfter'] as const) {
      const error = await failureOf({ [option]: never });
      expect(error).toMatchObject({ code: 280, codeName: 'ChangeStreamFatalError' });
      expect(error.message).toContain('cannot resume stream; the resume token was not found.');
      expect(error.message).toContain((last!._id as { _data: string })._data); // the event found instead
      expect(error.hasErrorLabel('NonResumableChangeStreamError')).toBe(true);
    }
    // startAfter an "invalidate" that no drop produced (at the time of an insert) is not found either: the
    // insert sorts before it, the next write after it (mongod's "surpassed the token").
    await coll.insertOne({ n: n + 1 });
    const insertTime = timeOf(last!);
    const notADrop = await failureOf({ startAfter: token(insertTime.seconds, insertTime.increment, 'invalidate') });
    expect(notADrop).toMatchObject({ code: 280, codeName: 'ChangeStreamFatalError' });
    expect(mongo.counters.resumeTokensNotFound).toBe(3);

    // The tokens it did issue still resume exactly where they point.
    const resumed = coll.watch([], { ...AWAIT, resumeAfter: previous!._id });
    streams.push(resumed);
    expect(insertedNumbers(await collectEvents(resumed, 2))).toEqual([n, n + 1]);
  });

  it('reports lost history (286), not a missing token, for its own tokens whose history is gone', async () => {
    const stream = await setup();
    await coll.insertMany([{ n: 1 }, { n: 2 }]);
    const [first] = await collectEvents(stream, 2);
    mongo.faults.loseHistory();
    const error = await failureOf({ resumeAfter: first!._id });
    expect(error).toMatchObject({ code: 286 }); // an issued token whose history is gone: lost, not "not found"
    expect(mongo.counters.resumeTokensNotFound).toBe(0);
  });
});
