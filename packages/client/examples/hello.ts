/**
 * Joins a room, prints what is said there, says hello, and leaves after a few seconds.
 *
 *   pnpm start                                    # a gateway on http://localhost:3000 (repository root)
 *   node --conditions=@switchyard/source --import tsx packages/client/examples/hello.ts [url] [room]
 */
import { createClient, isClientError } from '@switchyard/client';

const url = process.argv[2] ?? 'http://localhost:3000';
const roomName = process.argv[3] ?? 'lobby';

const client = createClient(url, { name: 'example-bot' });
client.onState((state, error) => console.log(`[state] ${state}${error ? ` (${error.code}: ${error.message})` : ''}`));

try {
  const room = await client.join(roomName);
  console.log(`joined #${room.name} with ${room.members.map((member) => member.name).join(', ')}`);
  for (const message of room.initialMessages) console.log(`  ${message.author.name}: ${message.text}`);

  room.on('message', (message) => console.log(`${message.author.name}: ${message.text}`));
  room.on('presence', ({ type, member }) => console.log(`* ${member.name} ${type === 'join' ? 'joined' : 'left'}`));
  room.on('typing', ({ member }) => console.log(`* ${member.name} is typing…`));

  const sent = await room.send('hello from the Switchyard SDK');
  console.log(`stored as ${sent.id} at ${sent.sentAt}`);

  await new Promise((resolve) => setTimeout(resolve, 5_000));
  await room.leave();
} catch (error) {
  if (isClientError(error)) console.error(`failed: ${error.code}: ${error.message}`);
  else throw error;
  process.exitCode = 1;
} finally {
  client.close();
}
