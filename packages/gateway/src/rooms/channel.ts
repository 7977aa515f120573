/*
 * Chat rooms live in Socket.IO rooms under a prefix. Socket.IO puts every socket in a room
 * named after its own id, and socket ids are valid room names: without the prefix a client
 * could join another socket's private room. Anything that emits to a chat room (SSE, HTTP
 * publish, adapters) must go through `roomChannel`.
 */
const PREFIX = 'room:';

export function roomChannel(room: string): string {
  return PREFIX + room;
}

/** The chat room name of a Socket.IO room, or undefined for rooms that are not chat rooms. */
export function roomOfChannel(channel: string): string | undefined {
  return channel.startsWith(PREFIX) ? channel.slice(PREFIX.length) : undefined;
}

/** The chat rooms among a socket's Socket.IO rooms. */
export function chatRoomsOf(channels: Iterable<string>): string[] {
  const rooms: string[] = [];
  for (const channel of channels) {
    const room = roomOfChannel(channel);
    if (room !== undefined) rooms.push(room);
  }
  return rooms;
}
