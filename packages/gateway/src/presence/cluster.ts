import type { Member, MembersListReply } from '@switchyard/protocol';
import type { GatewayServer } from '../types.js';
import type { PresenceRegistry } from './registry.js';

/*
 * A room's presence across the cluster: this node's registry, plus — only when the adapter knows
 * other nodes — their registries, asked with the protocol's `members:list` server-side event. A
 * single node (the in-memory adapter, or a cluster of one) never leaves its registry.
 */

export interface ClusterPresence {
  /** Up to the limit asked for, this node's members first. */
  members: Member[];
  /** Distinct members in the room, cluster-wide. */
  memberCount: number;
  /** Whether the user has a socket in the room on another node. */
  elsewhere(userId: string): boolean;
}

/** Answers other nodes' `members:list` from this node's registry. Returns the stop function. */
export function answerMembersList(io: GatewayServer, registry: PresenceRegistry): () => void {
  const onMembersList = (room: string, reply: (members: MembersListReply) => void): void => {
    if (typeof room === 'string' && typeof reply === 'function') reply(registry.members(room));
  };
  io.on('members:list', onMembersList);
  return () => io.off('members:list', onMembersList);
}

/**
 * The member lists the other nodes hold for `room`, one per node; `undefined` when there is no
 * other node. A node that does not answer in the adapter's timeout is left out (its members are
 * reaped with it if it is gone for good) rather than failing the caller.
 */
async function remoteMembers(io: GatewayServer, room: string): Promise<MembersListReply[] | undefined> {
  if ((await io.of('/').adapter.serverCount()) <= 1) return undefined;
  return new Promise((resolve) => {
    io.serverSideEmit('members:list', room, (_err, replies) => {
      resolve((replies ?? []).filter((reply): reply is MembersListReply => Array.isArray(reply)));
    });
  });
}

export async function clusterPresence(
  io: GatewayServer,
  registry: PresenceRegistry,
  room: string,
  limit = Number.POSITIVE_INFINITY,
): Promise<ClusterPresence> {
  const remote = await remoteMembers(io, room);
  if (remote === undefined) {
    return { members: registry.members(room, limit), memberCount: registry.memberCount(room), elsewhere: () => false };
  }
  const all = new Map<string, Member>();
  for (const member of registry.members(room)) all.set(member.id, member);
  const remoteIds = new Set<string>();
  for (const members of remote) {
    for (const member of members) {
      remoteIds.add(member.id);
      if (!all.has(member.id)) all.set(member.id, { id: member.id, name: member.name });
    }
  }
  const members: Member[] = [];
  for (const member of all.values()) {
    if (members.length >= limit) break;
    members.push(member);
  }
  return { members, memberCount: all.size, elsewhere: (userId) => remoteIds.has(userId) };
}

/** Whether the user has a socket in the room on another node (false on a single node). */
export async function presentElsewhere(io: GatewayServer, room: string, userId: string): Promise<boolean> {
  const remote = await remoteMembers(io, room);
  return remote?.some((members) => members.some((member) => member.id === userId)) ?? false;
}
