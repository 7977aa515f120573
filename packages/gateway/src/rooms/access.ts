import type { Member } from '@switchyard/protocol';

/*
 * The one rule for who may read a room, applied alike to socket joins, SSE streams and JWT
 * publishers: rooms named `<prefix><owner>` or `<prefix><owner>:<anything>` belong to the user whose
 * id is `<owner>`, the part of the name up to the first `:` after the prefix; every other room is
 * open to anyone the gateway let in. Reading the owner that way makes every private room name mean
 * one owner: a user whose id holds a `:` (a JWT `sub` of "ada:inbox", say) would otherwise also own
 * `<prefix>ada:inbox`, which is ada's. Such users — and those whose ids hold characters room names
 * cannot (`@`, `|`) — simply have no private rooms.
 */

export type RoomAccess = (user: Member | undefined, room: string) => boolean;

export function createRoomAccess(privateRoomPrefix: string): RoomAccess {
  return (user, room) => {
    if (!room.startsWith(privateRoomPrefix)) return true;
    if (user === undefined) return false;
    const rest = room.slice(privateRoomPrefix.length);
    const separator = rest.indexOf(':');
    return (separator === -1 ? rest : rest.slice(0, separator)) === user.id;
  };
}
