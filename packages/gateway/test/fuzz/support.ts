import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { ERRORS, LIMITS } from '@switchyard/protocol';

/*
 * Shared by the fuzz suites: the seed and run count (fixed in CI; `pnpm fuzz` runs many more with a
 * fresh seed and prints it), the generators of near-valid and hostile values, the checks every answer
 * must pass, and a heap measurement after a forced GC.
 *
 *   FUZZ_RUNS=5000 FUZZ_SEED=1234 pnpm vitest run packages/gateway/test/fuzz   # replay a run
 */

const seedSetting = process.env.FUZZ_SEED ?? '20261213';
export const FUZZ_SEED = seedSetting === 'random' ? Math.floor(Math.random() * 2 ** 31) : Number(seedSetting);
/** Runs per property: a CI-sized default, many more under `pnpm fuzz`. */
export const FUZZ_RUNS = Number(process.env.FUZZ_RUNS ?? 300);
/** A property's time budget: grows with the run count (a deadline, not a speed expectation). */
export const FUZZ_TIMEOUT_MS = 30_000 + FUZZ_RUNS * 40;

fc.configureGlobal({ seed: FUZZ_SEED, numRuns: FUZZ_RUNS, endOnFailure: true });
if (seedSetting === 'random') console.log(`fuzz seed ${FUZZ_SEED} (replay with FUZZ_SEED=${FUZZ_SEED})`);

const CODES = new Set(Object.keys(ERRORS));

/** An `{ code, message }` with a code of the protocol's table. */
export function isErrorBody(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false;
  const { code, message } = value as { code?: unknown; message?: unknown };
  return typeof code === 'string' && CODES.has(code) && typeof message === 'string';
}

/** What an ack must be: `{ ok: true, ... }` or `{ ok: false, error: { code, message } }`. */
export function isAck(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false;
  const ack = value as { ok?: unknown; error?: unknown };
  return ack.ok === true || (ack.ok === false && isErrorBody(ack.error));
}

/** Room names: valid ones (so handlers run), near misses at the bounds, and anything. */
export const roomName = fc.oneof(
  fc.constantFrom('lobby', 'fuzz', 'private:someone', 'private:fuzzer', 'a'.repeat(LIMITS.roomName.maxLength)),
  fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/),
  fc.string({ maxLength: 80 }),
  fc.string({ unit: 'grapheme', maxLength: 70 }),
  fc.constantFrom('', ' ', '..', '../etc', 'room\u0000', 'a'.repeat(65), 'é', '__proto__', 'constructor'),
);

const text = fc.oneof(
  fc.string({ maxLength: 50 }),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.constantFrom('', 'x'.repeat(LIMITS.messageText.maxLength), 'x'.repeat(LIMITS.messageText.maxLength + 1)),
);

/** Values of any JSON type, and the ones JSON cannot carry but Socket.IO can (binary). */
const anything = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)),
  fc.constantFrom(null, undefined, 0, -1, 1e308, Number.NaN, true, '', [], {}),
);

/** Payloads near each event's schema (fields right, wrong, missing or extra) and far from any. */
export const payload = fc.oneof(
  fc.record(
    {
      room: fc.oneof(roomName, anything),
      text: fc.oneof(text, anything),
      clientMessageId: fc.oneof(fc.string({ maxLength: 70 }), anything),
      before: fc.oneof(fc.string({ maxLength: 70 }), anything),
      limit: fc.oneof(fc.integer({ min: -5, max: 200 }), anything),
      extra: anything,
    },
    { requiredKeys: [] },
  ),
  anything,
);

/** Forces a full GC and returns the heap in use. */
export function heapAfterGc(): number {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}
