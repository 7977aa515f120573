/**
 * Must NOT compile: every line marked "wrong:" is a payload the protocol's types refuse.
 * .ci/pack-and-install runs tsc on this file and expects an error on each marked line, and no other.
 */
import { createClient } from '@switchyard/client';
import { subscribe } from '@switchyard/client/subscribe';

const client = createClient('http://127.0.0.1:3000', { name: 'ada' });
const room = await client.join('lobby');

await room.send({ text: 'hi' }); // wrong: send takes the text itself
client.socket.emit('message:send', { room: 'lobby', txt: 'hi', clientMessageId: 'a' }, () => undefined); // wrong: `txt`
client.socket.emit('room:joinn', { room: 'lobby' }); // wrong: no such event
client.socket.emit('history:fetch', { room: 'lobby', limit: '10' }, () => undefined); // wrong: limit is a number
createClient('http://127.0.0.1:3000', { nickname: 'ada' }); // wrong: unknown option
subscribe('http://127.0.0.1:3000', 'lobby').on('mesage', () => undefined); // wrong: no such event
