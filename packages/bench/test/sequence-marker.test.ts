import { describe, expect, it } from 'vitest';
import { createMarkerSplitter, markedText, sequenceIn } from '../src/load/sequence-marker.js';

describe('sequence markers', () => {
  it('makes texts of the requested size that carry their sequence number', () => {
    expect(markedText(42, 100)).toHaveLength(100);
    expect(markedText(7, 4_000)).toHaveLength(4_000);
    expect(sequenceIn(markedText(123_456, 100))).toBe(123_456);
  });

  it('finds the number inside a Socket.IO frame without parsing it', () => {
    const frame = Buffer.from(
      `42["message:new",${JSON.stringify({ id: '1', text: markedText(99, 50), author: { id: 'a', name: 'b' } })}]`,
    );
    expect(sequenceIn(frame)).toBe(99);
  });

  it('answers -1 for frames without a marker', () => {
    expect(sequenceIn(Buffer.from('42["presence:join",{"room":"r"}]'))).toBe(-1);
    expect(sequenceIn('~q~')).toBe(-1);
  });
});

describe('createMarkerSplitter', () => {
  const events = (...sequences: number[]) =>
    sequences
      .map((sequence) => `id: ${sequence}\nevent: message:new\ndata: {"text":"${markedText(sequence, 30)}"}\n\n`)
      .join('');

  function split(chunks: string[]): number[] {
    const seen: number[] = [];
    const feed = createMarkerSplitter((frame) => seen.push(sequenceIn(frame)));
    for (const chunk of chunks) feed(Buffer.from(chunk));
    return seen;
  }

  it('emits every marker of a chunk holding several events', () => {
    expect(split([events(1, 2, 3)])).toEqual([1, 2, 3]);
  });

  it('carries a marker split across chunks, at any byte, to the next chunk', () => {
    const stream = events(10, 11, 12);
    for (let cut = 1; cut < stream.length; cut++) {
      expect(split([stream.slice(0, cut), stream.slice(cut)])).toEqual([10, 11, 12]);
    }
  });
});
