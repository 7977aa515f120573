import { describe, expect, it } from 'vitest';
import {
  clientEventValidators,
  compileClientEventValidators,
  compileValidator,
  DisplayName,
  isValidRoomName,
  LIMITS,
  PresenceSharesSchema,
  PresenceSnapshotSchema,
  publishMessageBody,
  RoomParams,
} from '@switchyard/protocol';

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
    ['an over-long text', { room: 'lobby', text: 'x'.repeat(LIMITS.messageText.maxLength + 1), clientMessageId: 'c1' }],
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

  it('bounds members:list pages and cursors', () => {
    const v = clientEventValidators['members:list'];
    expect(v.check({ room: 'r' })).toBe(true);
    expect(v.check({ room: 'r', cursor: 'user-7', limit: LIMITS.membersPage.max })).toBe(true);
    expect(v.check({ room: 'r', limit: LIMITS.membersPage.max + 1 })).toBe(false);
    expect(v.check({ room: 'r', limit: 0 })).toBe(false);
    expect(v.check({ room: 'r', cursor: 'x'.repeat(LIMITS.userId.maxLength + 1) })).toBe(false);
    expect(v.check({ room: 'r', cursor: '' })).toBe(false);
    expect(v.refusal({ room: '../x' }).code).toBe('INVALID_ROOM');
  });

  it('checks what another node shares before it is trusted', () => {
    const shares = compileValidator(PresenceSharesSchema);
    const ok = { uid: 'n1', rooms: [{ room: 'r', seq: 2, prev: 1, joined: [{ id: 'a', name: 'A' }], left: ['b'] }] };
    expect(shares.check(ok)).toBe(true);
    expect(shares.check({ ...ok, rooms: [{ ...ok.rooms[0], seq: 0 }] })).toBe(false);
    expect(shares.check({ ...ok, rooms: [{ ...ok.rooms[0], joined: [{ id: 'a' }] }] })).toBe(false);
    expect(compileValidator(PresenceSnapshotSchema).check({ uid: 'n1', seq: 0, members: [] })).toBe(true);
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

describe('refusals', () => {
  const send = compileClientEventValidators({ maxMessageLength: 10 })['message:send'];

  it('gives a present but malformed room INVALID_ROOM, whatever else is wrong', () => {
    expect(send.refusal({ room: '../etc', text: '', extra: 1 }).code).toBe('INVALID_ROOM');
    expect(send.refusal({ room: 7, text: 'hi', clientMessageId: 'c' }).code).toBe('INVALID_ROOM');
    expect(compileValidator(RoomParams).refusal({ room: '-x' }).code).toBe('INVALID_ROOM');
  });

  it('gives a missing room, an empty text or an unknown field INVALID_PAYLOAD, naming the problem', () => {
    const missing = send.refusal({ text: 'hi', clientMessageId: 'c' });
    expect(missing.code).toBe('INVALID_PAYLOAD');
    expect(missing.message).toContain('/room');
    expect(send.refusal({ room: 'r', text: '', clientMessageId: 'c' }).code).toBe('INVALID_PAYLOAD');
    expect(send.refusal({ room: 'r', text: 'hi', clientMessageId: 'c', admin: true }).code).toBe('INVALID_PAYLOAD');
  });

  it('gives a text over the configured bound MESSAGE_TOO_LONG, and says the bound', () => {
    expect(send.check({ room: 'r', text: 'x'.repeat(10), clientMessageId: 'c' })).toBe(true);
    const tooLong = send.refusal({ room: 'r', text: 'x'.repeat(11), clientMessageId: 'c' });
    expect(tooLong.code).toBe('MESSAGE_TOO_LONG');
    expect(tooLong.message).toContain('10');
    expect(compileValidator(publishMessageBody({ maxMessageLength: 10 })).refusal({ text: 'x'.repeat(11) }).code).toBe(
      'MESSAGE_TOO_LONG',
    );
  });

  it('never lets a configured bound exceed the protocol’s', () => {
    const loose = compileClientEventValidators({ maxMessageLength: LIMITS.messageText.maxLength * 2 })['message:send'];
    expect(loose.check({ room: 'r', text: 'x'.repeat(LIMITS.messageText.maxLength + 1), clientMessageId: 'c' })).toBe(
      false,
    );
  });

  it('refuses display names with control characters or beyond the bounds', () => {
    const names = compileValidator(DisplayName);
    expect(names.check('Ada Lovelace')).toBe(true);
    expect(names.check('evil\nname')).toBe(false);
    expect(names.check('rtl\u2028')).toBe(false);
    expect(names.check('x'.repeat(LIMITS.displayName.maxLength + 1))).toBe(false);
    expect(names.check('')).toBe(false);
  });
});
