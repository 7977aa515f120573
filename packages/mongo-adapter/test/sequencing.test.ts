import { describe, expect, it } from 'vitest';
import { Numbering, Sequencer, type Sequenced } from '../src/sequencing.js';

/** Sequence numbers and the receivers' reordering, without MongoDB: what the fault runs rely on. */

function receiver(holdMs = 1000, firstContactMs = 100) {
  const delivered: string[] = [];
  const duplicates: string[] = [];
  const gaps: Array<[string, number, number]> = [];
  const sequencer = new Sequencer<string>(
    {
      deliver: (event) => delivered.push(event),
      duplicate: (item) => duplicates.push(`${item.origin}:${item.seq}`),
      gaveUp: (origin, _channel, from, to) => gaps.push([origin, from, to]),
    },
    holdMs,
    100,
    firstContactMs,
  );
  const accept = (origin: string, seq: number, low: number | undefined, now = 0, to = '') =>
    sequencer.accept({ origin, to, seq, low } satisfies Sequenced, `${origin}${seq}`, now);
  return { sequencer, delivered, duplicates, gaps, accept };
}

describe('Numbering (the sending side)', () => {
  it('numbers each channel from 1, and marks low with the oldest number not yet settled', () => {
    const numbering = new Numbering();
    expect([numbering.assign(''), numbering.assign(''), numbering.assign('node-b')]).toEqual([1, 2, 1]);
    expect(numbering.low('')).toBe(1);
    numbering.settle('', 2); // a later batch acknowledged first
    expect(numbering.low('')).toBe(1);
    numbering.settle('', 1);
    expect(numbering.low('')).toBe(3); // nothing pending: the next number
    expect(numbering.low('node-b')).toBe(1);
  });
});

describe('Sequencer (the receiving side)', () => {
  it('delivers in order what arrives in order', () => {
    const r = receiver();
    for (let seq = 1; seq <= 3; seq++) r.accept('a', seq, seq);
    expect(r.delivered).toEqual(['a1', 'a2', 'a3']);
    expect(r.sequencer.held).toBe(0);
  });

  it('holds a document until the ones it may still wait for arrive, then releases them in order', () => {
    const r = receiver();
    r.accept('a', 1, 1);
    r.accept('a', 3, 2); // batch 3 overtook batch 2
    r.accept('a', 4, 2);
    expect(r.delivered).toEqual(['a1']);
    expect(r.sequencer.held).toBe(2);
    r.accept('a', 2, 2);
    expect(r.delivered).toEqual(['a1', 'a2', 'a3', 'a4']);
    expect(r.sequencer.held).toBe(0);
  });

  it('does not wait for numbers below low (acknowledged earlier, or given up by the origin)', () => {
    const r = receiver();
    r.accept('a', 1, 1);
    r.accept('a', 5, 5); // 2..4 were abandoned by the origin (an emitter's failed batch)
    expect(r.delivered).toEqual(['a1', 'a5']);
    r.accept('a', 3, 2); // the abandoned write landed after all: too late, dropped
    expect(r.delivered).toEqual(['a1', 'a5']);
    expect(r.duplicates).toEqual(['a:3']);
  });

  it('releases what it held when a later document moves low past a hole', () => {
    const r = receiver();
    r.accept('a', 1, 1);
    r.accept('a', 3, 2);
    r.accept('a', 4, 4); // 2 was given up (skip record lost): low says so
    expect(r.delivered).toEqual(['a1', 'a3', 'a4']);
  });

  it('drops duplicates, held or delivered', () => {
    const r = receiver();
    r.accept('a', 1, 1);
    r.accept('a', 1, 1);
    r.accept('a', 3, 2);
    r.accept('a', 3, 2);
    expect(r.duplicates).toEqual(['a:1', 'a:3']);
  });

  it('keeps origins and channels apart', () => {
    const r = receiver();
    r.accept('a', 1, 1);
    r.accept('b', 1, 1);
    r.accept('a', 1, 1, 0, 'me'); // a response of a: another channel, its own numbers
    r.accept('a', 3, 2);
    r.accept('b', 2, 2);
    expect(r.delivered).toEqual(['a1', 'b1', 'a1', 'b2']);
  });

  it('on first contact, waits briefly for the predecessors its first document names (they may predate it)', () => {
    const r = receiver(1000, 100);
    r.accept('a', 41, 39, 0); // 39 and 40 were in flight when 41 was sent: they may still come...
    expect(r.delivered).toEqual([]);
    r.accept('a', 39, 39, 5);
    r.accept('a', 40, 39, 6);
    expect(r.delivered).toEqual(['a39', 'a40', 'a41']);

    r.accept('b', 7, 5, 0); // ...or have been committed before this node listened: no gap then
    expect(r.sequencer.sweep(50)).toBe(true);
    expect(r.sequencer.sweep(100)).toBe(false);
    expect(r.delivered).toEqual(['a39', 'a40', 'a41', 'b7']);
    expect(r.gaps).toEqual([]);

    r.sequencer.reset(); // after lost history, every origin is a first contact again
    r.accept('a', 90, 90, 200);
    expect(r.delivered).toEqual(['a39', 'a40', 'a41', 'b7', 'a90']);
  });

  it('gives a hole up after holdMs, delivering what it held and reporting the missing numbers', () => {
    const r = receiver(1000, 100);
    r.accept('a', 1, 1, 0);
    r.accept('a', 3, 2, 10);
    r.accept('a', 5, 2, 20);
    expect(r.sequencer.sweep(500)).toBe(true);
    expect(r.delivered).toEqual(['a1']);
    expect(r.sequencer.sweep(1010)).toBe(false);
    expect(r.delivered).toEqual(['a1', 'a3', 'a5']);
    expect(r.gaps).toEqual([['a', 2, 5]]);
    r.accept('a', 6, 6, 1020);
    expect(r.delivered).toEqual(['a1', 'a3', 'a5', 'a6']);
  });

  it('treats format-1 documents (no low) as one sequence that never waits', () => {
    const r = receiver();
    r.accept('old', 1, undefined);
    r.accept('old', 4, undefined); // format 1 numbered every channel together: holes are normal
    r.accept('old', 2, undefined);
    expect(r.delivered).toEqual(['old1', 'old4']);
  });
});
