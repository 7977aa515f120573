/**
 * Every benchmark message's text starts with `~q<seq>~`, so a receiver finds the sequence number in the
 * raw frame without parsing JSON: what a thousand receivers in one process can afford.
 */
export const MARK = Buffer.from('~q');
const DIGIT_0 = 0x30;

export function markedText(sequence: number, size: number): string {
  const head = `~q${sequence}~`;
  return head + 'x'.repeat(Math.max(0, size - head.length));
}

/** The sequence number in a frame, or -1 when the frame carries none (presence, other events). */
export function sequenceIn(frame: Buffer | string): number {
  const buffer = typeof frame === 'string' ? Buffer.from(frame) : frame;
  const at = buffer.indexOf(MARK);
  if (at < 0) return -1;
  let value = 0;
  let index = at + 2;
  for (; index < buffer.length; index++) {
    const code = buffer[index]!;
    if (code < DIGIT_0 || code > DIGIT_0 + 9) break;
    value = value * 10 + (code - DIGIT_0);
  }
  return index === at + 2 ? -1 : value;
}

const TILDE = 0x7e;

/**
 * For byte streams (SSE) whose chunks can split an event anywhere: calls `emit` with a buffer starting
 * at each complete marker (`~q<digits>~`), carrying an incomplete marker over to the next chunk.
 */
export function createMarkerSplitter(emit: (frame: Buffer) => void): (chunk: Buffer) => void {
  let carry: Buffer | undefined;
  return (chunk) => {
    const data = carry ? Buffer.concat([carry, chunk]) : chunk;
    carry = undefined;
    let at = data.indexOf(MARK);
    while (at >= 0) {
      let end = at + MARK.length;
      while (end < data.length && data[end]! >= DIGIT_0 && data[end]! <= DIGIT_0 + 9) end++;
      if (end >= data.length) {
        carry = data.subarray(at);
        return;
      }
      if (data[end] === TILDE) emit(data.subarray(at, end + 1));
      at = data.indexOf(MARK, end);
    }
    // A lone `~` at the very end may be the first half of the next marker.
    if (data[data.length - 1] === TILDE) carry = data.subarray(data.length - 1);
  };
}
