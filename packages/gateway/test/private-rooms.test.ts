import { afterEach, describe, expect, it } from 'vitest';
import {
  API_KEY,
  closeAll,
  connect,
  JWT_SECRET,
  openStream,
  publish,
  refusal,
  request,
  startGateway,
  tokenFor,
} from '@switchyard/testkit';

/*
 * `private:<owner>[:<anything>]` belongs to exactly one user, the id up to the first `:`: a user
 * whose id holds a `:` cannot pass for the owner of another's room.
 */

afterEach(closeAll);

const jwtEnv = { AUTH_MODE: 'jwt', JWT_SECRET, API_KEYS: API_KEY };

describe('private room ownership', () => {
  it('a subject "ada:inbox" gets none of private:ada:inbox, which is ada\'s, over sockets, SSE or HTTP', async () => {
    const { url } = await startGateway(jwtEnv);
    const impostor = await tokenFor('ada:inbox', { scope: 'publish' });
    const socket = await connect(url, { transports: ['websocket'], auth: { token: impostor } });
    expect(await request(socket, 'room:join', { room: 'private:ada:inbox' })).toMatchObject({
      ok: false,
      error: { code: 'FORBIDDEN' },
    });
    expect(
      await refusal(`${url}/v1/rooms/private:ada:inbox/events`, { authorization: `Bearer ${impostor}` }),
    ).toMatchObject({ status: 403, body: { code: 'FORBIDDEN' } });
    expect(
      await publish(url, 'private:ada:inbox', { text: 'x' }, { authorization: `Bearer ${impostor}` }),
    ).toMatchObject({ status: 403, body: { code: 'FORBIDDEN' } });
  });

  it('ada keeps her rooms, and a subject with a ":" owns no private room', async () => {
    const { url } = await startGateway(jwtEnv);
    const ada = await connect(url, { transports: ['websocket'], auth: { token: await tokenFor('ada') } });
    for (const room of ['private:ada', 'private:ada:inbox', 'private:ada:inbox:2024'])
      expect(await request(ada, 'room:join', { room })).toMatchObject({ ok: true });
    const own = await openStream(`${url}/v1/rooms/private:ada:inbox/events`, {
      authorization: `Bearer ${await tokenFor('ada')}`,
    });
    expect(own.response.status).toBe(200);

    const colon = await connect(url, { transports: ['websocket'], auth: { token: await tokenFor('ada:inbox') } });
    expect(await request(colon, 'room:join', { room: 'private:ada:inbox' })).toMatchObject({ ok: false });
    expect(await request(colon, 'room:join', { room: 'lobby' })).toMatchObject({ ok: true });
  });

  it('applies to anonymous user ids too', async () => {
    const { url } = await startGateway();
    const socket = await connect(url, { transports: ['websocket'], auth: { userId: 'ada:inbox' } });
    expect(await request(socket, 'room:join', { room: 'private:ada:inbox' })).toMatchObject({
      ok: false,
      error: { code: 'FORBIDDEN' },
    });
  });
});
