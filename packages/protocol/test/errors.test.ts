import { describe, expect, it } from 'vitest';
import { ERRORS, SwitchyardError, isErrorCode } from '@switchyard/protocol';

describe('error table', () => {
  it('keys every error by its own code', () => {
    for (const [key, value] of Object.entries(ERRORS)) expect(value.code).toBe(key);
  });

  it('pins the number of codes so one is never dropped or renamed silently', () => {
    expect(Object.keys(ERRORS)).toHaveLength(24);
  });

  it('gives every code an HTTP status and a message', () => {
    for (const value of Object.values(ERRORS)) {
      expect(value.status).toBeGreaterThanOrEqual(400);
      expect(value.status).toBeLessThan(600);
      expect(value.message.length).toBeGreaterThan(0);
    }
  });

  it('serialises a SwitchyardError to the wire shape', () => {
    const error = new SwitchyardError('RATE_LIMITED');
    expect(error.status).toBe(429);
    expect(JSON.parse(JSON.stringify(error))).toEqual({ code: 'RATE_LIMITED', message: ERRORS.RATE_LIMITED.message });
    expect(isErrorCode('RATE_LIMITED')).toBe(true);
    expect(isErrorCode('toString')).toBe(false);
  });
});
