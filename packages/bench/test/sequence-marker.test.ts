import { describe, expect, it } from 'vitest';
import { markedText, sequenceIn } from '../src/load/sequence-marker.js';

describe('sequence markers', () => {
  it('makes texts of the requested size that carry their sequence number', () => {
    expect(markedText(42, 100)).toHaveLength(100);
    expect(markedText(7, 4_000)).toHaveLength(4_000);
    expect(sequenceIn(markedText(123_456, 100))).toBe(123_456);
  });

  it('finds the number inside a Socket.IO frame without parsing it', () => {
    const frame = Buffer.from(`42["message:new",${JSON.stringify({ id: '1', text: markedText(99, 50), author: { id: 'a', name: 'b' } })}]`);
    expect(sequenceIn(frame)).toBe(99);
  });

  it('answers -1 for frames without a marker', () => {
    expect(sequenceIn(Buffer.from('42["presence:join",{"room":"r"}]'))).toBe(-1);
    expect(sequenceIn('~q~')).toBe(-1);
  });
});
