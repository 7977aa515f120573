import { afterEach, describe, expect, it } from 'vitest';
import type { ChatMessage, ShutdownNotice } from '@switchyard/protocol';
import {
  API_KEY,
  closeAll,
  connect,
  JWT_SECRET,
  metricValue,
  openStream,
  publish,
  refusal,
  request,
  startGateway,
  tokenFor,
  waitFor,
} from '@switchyard/testkit';

afterEach(closeAll);

const jwtEnv = { AUTH_MODE: 'jwt', JWT_SECRET, API_KEYS: API_KEY };

describe('SSE auth', () => {
  it('in jwt mode refuses a missing, invalid or expired token with 401 and a JSON body', async () => {
    const { url } = await startGateway(jwtEnv);
    const events = `${url}/v1/rooms/lobby/events`;
    expect(await refusal(events)).toMatchObject({ status: 401, body: { code: 'AUTH_REQUIRED' } });
    expect(await refusal(events, { authorization: 'Bearer not.a.jwt' })).toMatchObject({
      status: 401,
      body: { code: 'AUTH_INVALID' },
    });
    const forged = await tokenFor('ada');
    expect(await refusal(`${events}?token=${forged.slice(0, -3)}abc`)).toMatchObject({
      status: 401,
      body: { code: 'AUTH_INVALID' },
    });
    const expired = await tokenFor('ada', {}, Math.floor(Date.now() / 1000) - 60);
    expect(await refusal(events, { authorization: `Bearer ${expired}` })).toMatchObject({
      status: 401,
      body: { code: 'AUTH_EXPIRED' },
    });
    expect(await metricValue(url, 'switchyard_sse_streams_refused_total', '{code="AUTH_REQUIRED"}')).toBe(1);
  });

  it('accepts a token as Authorization: Bearer or ?token= (what browsers can send)', async () => {
    const { url } = await startGateway(jwtEnv);
    const token = await tokenFor('ada');
    const byHeader = await openStream(`${url}/v1/rooms/lobby/events`, { authorization: `Bearer ${token}` });
    const byQuery = await openStream(`${url}/v1/rooms/lobby/events?token=${encodeURIComponent(token)}`);
    expect([byHeader.response.status, byQuery.response.status]).toEqual([200, 200]);
    await publish(url, 'lobby', { text: 'hi' });
    await byHeader.waitForEvents('message:new', 1);
    await byQuery.waitForEvents('message:new', 1);
  });

  it("refuses another user's private room with 403, and lets its owner in", async () => {
    const { url } = await startGateway(jwtEnv);
    const ada = await tokenFor('ada');
    expect(await refusal(`${url}/v1/rooms/private:bob/events`, { authorization: `Bearer ${ada}` })).toMatchObject({
      status: 403,
      body: { code: 'FORBIDDEN' },
    });
    expect(await refusal(`${url}/v1/rooms/private:bob:inbox/events`, { authorization: `Bearer ${ada}` })).toMatchObject(
      { status: 403 },
    );
    // A prefix of the user id is not the user id.
    expect(await refusal(`${url}/v1/rooms/private:adam/events`, { authorization: `Bearer ${ada}` })).toMatchObject({
      status: 403,
    });
    const own = await openStream(`${url}/v1/rooms/private:ada:inbox/events`, { authorization: `Bearer ${ada}` });
    expect(own.response.status).toBe(200);
  });

  it('applies the same private-room rule to socket joins', async () => {
    const { url } = await startGateway(jwtEnv);
    const ada = await connect(url, { transports: ['websocket'], auth: { token: await tokenFor('ada') } });
    expect(await request(ada, 'room:join', { room: 'private:bob' })).toMatchObject({
      ok: false,
      error: { code: 'FORBIDDEN' },
    });
    expect(await request(ada, 'room:join', { room: 'private:ada' })).toMatchObject({ ok: true });
  });

  it('in anonymous mode streams open rooms to anyone and private rooms to no one', async () => {
    const { url } = await startGateway({ API_KEYS: API_KEY });
    const open = await openStream(`${url}/v1/rooms/lobby/events`);
    expect(open.response.status).toBe(200);
    expect(await refusal(`${url}/v1/rooms/private:ada/events`)).toMatchObject({
      status: 403,
      body: { code: 'FORBIDDEN' },
    });
  });
});

describe('SSE limits and shutdown', () => {
  it('limits streams per client and per node with 409 TOO_MANY_SOCKETS, and frees the slot on close', async () => {
    const { url } = await startGateway({ ...jwtEnv, SSE_MAX_STREAMS_PER_CLIENT: '1', SSE_MAX_STREAMS: '2' });
    const [ada, bob, cy] = await Promise.all([tokenFor('ada'), tokenFor('bob'), tokenFor('cy')]);
    const first = await openStream(`${url}/v1/rooms/a/events`, { authorization: `Bearer ${ada}` });
    expect(await refusal(`${url}/v1/rooms/b/events`, { authorization: `Bearer ${ada}` })).toMatchObject({
      status: 409,
      body: { code: 'TOO_MANY_SOCKETS' },
    });
    await openStream(`${url}/v1/rooms/a/events`, { authorization: `Bearer ${bob}` });
    expect(await refusal(`${url}/v1/rooms/a/events`, { authorization: `Bearer ${cy}` })).toMatchObject({ status: 409 });
    first.close();
    await waitFor('a free slot', async () => (await metricValue(url, 'switchyard_sse_streams')) === 1);
    const again = await openStream(`${url}/v1/rooms/a/events`, { authorization: `Bearer ${ada}` });
    expect(again.response.status).toBe(200);
  });

  it('on drain tells every stream server:shutdown with a retry hint and ends it; new streams get 503', async () => {
    const { gateway, url } = await startGateway({ API_KEYS: API_KEY, SSE_RETRY_MS: '750' });
    const stream = await openStream(`${url}/v1/rooms/lobby/events`);
    await publish(url, 'lobby', { text: 'before' });
    await stream.waitForEvents<ChatMessage>('message:new', 1);
    await gateway.drain();
    await stream.ended;
    expect(stream.dataOf<ShutdownNotice>('server:shutdown')).toEqual([{ reason: 'draining', reconnectAfterMs: 750 }]);
    expect(stream.retries.at(-1)).toBe(750);
    expect(await refusal(`${url}/v1/rooms/lobby/events`)).toMatchObject({
      status: 503,
      body: { code: 'SHUTTING_DOWN' },
    });
  });

  it('closes open streams when the gateway closes', async () => {
    const { gateway, url } = await startGateway({ API_KEYS: API_KEY });
    const stream = await openStream(`${url}/v1/rooms/lobby/events`);
    await gateway.close();
    await stream.ended;
    expect(stream.dataOf('server:shutdown')).toHaveLength(1);
  });
});
