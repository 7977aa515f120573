import { afterEach, describe, expect, it } from 'vitest';
import { API_KEY, closeAll, connectError, publish, socketTo, startGateway } from '@switchyard/testkit';

/*
 * The author an HTTP publisher names follows the rules of names chosen at a socket handshake: no
 * control characters (which forge lines in logs and UIs), no bidirectional overrides (which make
 * one name read as another).
 */

afterEach(closeAll);

const FORGING_NAMES = [
  'evil\nname\u202e',
  'line\rbreak',
  'nul\u0000',
  'next\u0085line',
  'para\u2029graph',
  'abc\u202edcba',
  'iso\u2066late',
];

describe('author names of HTTP publishes', () => {
  it.each(FORGING_NAMES)('refuses the name %j with 400 INVALID_PAYLOAD, as a handshake refuses it', async (name) => {
    const { url } = await startGateway({ API_KEYS: API_KEY });
    expect(await publish(url, 'lobby', { text: 'hi', author: { id: 'bot', name } })).toMatchObject({
      status: 400,
      body: { code: 'INVALID_PAYLOAD' },
    });
    const refused = await connectError(socketTo(url, { transports: ['websocket'], auth: { name } }));
    expect(refused.data?.code).toBe('INVALID_PAYLOAD');
  });

  it('refuses an author id with control characters', async () => {
    const { url } = await startGateway({ API_KEYS: API_KEY });
    expect(await publish(url, 'lobby', { text: 'hi', author: { id: 'bot\n1', name: 'Bot' } })).toMatchObject({
      status: 400,
      body: { code: 'INVALID_PAYLOAD' },
    });
  });

  it('takes names in any script', async () => {
    const { url } = await startGateway({ API_KEYS: API_KEY });
    for (const name of ['Zoë', '李小龍', 'نور', 'Ада Лавлейс'])
      expect(await publish(url, 'lobby', { text: 'hi', author: { id: 'bot', name } })).toMatchObject({
        status: 201,
        body: { author: { id: 'bot', name } },
      });
  });
});
