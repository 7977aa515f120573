import { describe, expect, it } from 'vitest';
import { LIMITS, clientEventValidators, isValidRoomName } from '@switchyard/protocol';

describe('client event schemas', () => {
  it('accepts a well-formed message:send', () => {
    expect(clientEventValidators['message:send'].check({ room: 'lobby', text: 'hi', clientMessageId: 'c1' })).toBe(
      true,
    );
  });

  it.each([
    ['a missing field', { room: 'lobby', text: 'hi' }],
    ['an extra field', { room: 'lobby', text: 'hi', clientMessageId: 'c1', admin: true }],
    ['an empty text', { room: 'lobby', text: '', clientMessageId: 'c1' }],
    ['a bad room name', { room: '../etc', text: 'hi', clientMessageId: 'c1' }],
    ['a non-object', 'hello'],
    ['an over-long client message id', { room: 'lobby', text: 'hi', clientMessageId: 'x'.repeat(65) }],
  ])('refuses %s', (_label, payload) => {
    expect(clientEventValidators['message:send'].check(payload)).toBe(false);
    expect(clientEventValidators['message:send'].issues(payload).length).toBeGreaterThan(0);
  });

  it('bounds history page sizes', () => {
    const v = clientEventValidators['history:fetch'];
    expect(v.check({ room: 'r', limit: LIMITS.historyPage.max })).toBe(true);
    expect(v.check({ room: 'r', limit: LIMITS.historyPage.max + 1 })).toBe(false);
    expect(v.check({ room: 'r', limit: 0 })).toBe(false);
  });

  it('checks room names with the same rule everywhere', () => {
    expect(isValidRoomName('general')).toBe(true);
    expect(isValidRoomName('team:eng.backend-1')).toBe(true);
    expect(isValidRoomName('')).toBe(false);
    expect(isValidRoomName('-leading-dash')).toBe(false);
    expect(isValidRoomName('x'.repeat(65))).toBe(false);
    expect(clientEventValidators['room:join'].check({ room: 'x'.repeat(65) })).toBe(false);
  });
});
