import { Writable } from 'node:stream';
import { SignJWT } from 'jose';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { gatewayLoggerOptions } from '../src/index.js';
import { closeAll, connect, request, send, startGateway, waitFor } from '@switchyard/testkit';

afterEach(closeAll);

const SECRET = 'logging-test-secret-long-enough-0123456789';

function captureLogs() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n'))
        if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { lines, logger: pino(gatewayLoggerOptions('debug'), stream) };
}

describe('structured logs', () => {
  it('carry socketId, userId and event, and never a token', async () => {
    const { lines, logger } = captureLogs();
    const { url } = await startGateway({ AUTH_MODE: 'jwt', JWT_SECRET: SECRET }, { logger });
    const token = await new SignJWT({ sub: 'user-7', name: 'Seven' })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(SECRET));
    const socket = await connect(url, { transports: ['websocket'], auth: { token } });
    await request(socket, 'room:leave', { room: 'never-joined' });
    send(socket, 'mystery');
    await fetch(`${url}/nothing-here?token=${token}`);

    const refusal = await waitFor('the refusal log', () =>
      lines.find((l) => l.msg === 'event refused' && l.event === 'room:leave'),
    );
    expect(refusal).toMatchObject({ socketId: socket.id, userId: 'user-7', code: 'NOT_IN_ROOM' });
    expect(lines.find((l) => l.msg === 'socket connected')).toMatchObject({ socketId: socket.id, userId: 'user-7' });
    await waitFor('the unknown event log', () => lines.some((l) => l.msg === 'event refused' && l.event === 'mystery'));
    await waitFor('the request log', () =>
      lines.some((l) => (l.req as { url?: string } | undefined)?.url === '/nothing-here'),
    );
    const everything = JSON.stringify(lines);
    expect(everything).not.toContain(token);
    expect(everything).not.toContain(token.split('.')[2]);
  });
});
