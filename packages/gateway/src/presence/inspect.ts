import type { Member } from '@switchyard/protocol';
import type { GatewayServer } from '../types.js';
import { roomChannel } from '../rooms/channel.js';

export interface RoomPresence {
  /** Distinct users in the room (by user id), in no particular order. */
  members: Member[];
  /** How many sockets of the given user are in the room. */
  socketsOf(userId: string): number;
}

/**
 * Who is in a room, socket by socket. `fetchSockets` asks the adapter, so with a cluster adapter
 * the answer is cluster-wide. O(sockets in the room): for occasional inspection only — the join,
 * leave and disconnect paths use the `PresenceRegistry` and `clusterPresence` instead.
 */
export async function roomPresence(io: GatewayServer, room: string): Promise<RoomPresence> {
  const sockets = await io.in(roomChannel(room)).fetchSockets();
  const members = new Map<string, Member>();
  const counts = new Map<string, number>();
  for (const socket of sockets) {
    const user = socket.data.user;
    if (!user) continue;
    if (!members.has(user.id)) members.set(user.id, { id: user.id, name: user.name });
    counts.set(user.id, (counts.get(user.id) ?? 0) + 1);
  }
  return { members: [...members.values()], socketsOf: (userId) => counts.get(userId) ?? 0 };
}
