import type { Member } from '@switchyard/protocol';

/*
 * The one rule for who may read a room, applied alike to socket joins, SSE streams and JWT
 * publishers: rooms named `<prefix><userId>` or `<prefix><userId>:<anything>` belong to that
 * user; every other room is open to anyone the gateway let in. Room names cannot hold every
 * character a user id can (`@`, `|`), so such users simply have no private rooms.
 */

export type RoomAccess = (user: Member | undefined, room: string) => boolean;

export function createRoomAccess(privateRoomPrefix: string): RoomAccess {
  return (user, room) => {
    if (!room.startsWith(privateRoomPrefix)) return true;
    if (user === undefined) return false;
    const rest = room.slice(privateRoomPrefix.length);
    return rest === user.id || rest.startsWith(`${user.id}:`);
  };
}
