/**
 * A small app written as a user would, against the installed packages: two clients on the gateway
 * (one on WebSocket, one on long-polling) and an SSE subscriber; one message goes from the first to
 * the other two. Exits 0 when everyone got it, 1 otherwise.
 *   node out/chat.js http://127.0.0.1:3000
 */
import { createClient, isClientError, type ChatMessage } from '@switchyard/client';
import { subscribe } from '@switchyard/client/subscribe';

const url = process.argv[2] ?? 'http://127.0.0.1:3000';
const room = `scratch-${Date.now()}`;
const text = `hello from a scratch project on Node ${process.version}`;

const deadline = setTimeout(() => {
  console.error('chat: timed out after 20 s');
  process.exit(1);
}, 20_000);

const ada = createClient(url, { name: 'ada', transports: ['websocket'] });
const bob = createClient(url, { name: 'bob', transports: ['polling'] });
const listener = subscribe(url, room);
const listening = new Promise<void>((resolve) => listener.on('open', () => resolve()));

function first(what: string, wait: (resolve: (message: ChatMessage) => void) => void): Promise<ChatMessage> {
  return new Promise<ChatMessage>(wait).then((message) => {
    console.log(`chat: ${what} got ${JSON.stringify(message.text)} (${message.id})`);
    return message;
  });
}

try {
  const adaRoom = await ada.join(room);
  const bobRoom = await bob.join(room);
  await listening;
  const byBob = first('bob (polling)', (resolve) => bobRoom.on('message', resolve));
  const bySse = first('an SSE subscriber', (resolve) => listener.on('message', resolve));

  const sent = await adaRoom.send(text);
  const [bobGot, sseGot] = await Promise.all([byBob, bySse]);
  if (bobGot.id !== sent.id || sseGot.id !== sent.id || bobGot.text !== text) {
    throw new Error(`expected message ${sent.id}, got ${bobGot.id} and ${sseGot.id}`);
  }
  // The typed socket underneath, for what the SDK does not wrap.
  const page = await ada.socket.emitWithAck('history:fetch', { room, limit: 10 });
  if (!page.ok || !page.messages.some((message) => message.id === sent.id)) {
    throw new Error(`history:fetch did not return the message: ${JSON.stringify(page)}`);
  }
  console.log(
    `chat: ada (websocket) → bob (polling) and SSE, in history too; transports ${ada.socket.io.engine.transport.name}/${bob.socket.io.engine.transport.name}`,
  );
} catch (error) {
  console.error('chat: failed:', isClientError(error) ? `${error.code} ${error.message}` : error);
  process.exitCode = 1;
} finally {
  listener.close();
  ada.close();
  bob.close();
  clearTimeout(deadline);
}
