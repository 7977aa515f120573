import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ChatMessage } from '../src/index.js';
import { ClientPool } from './helpers/clients.js';
import { startGateway, type RunningGateway } from './helpers/gateway.js';
import { startTcpProxy, type TcpProxy } from './helpers/tcp-proxy.js';
import { waitFor } from './helpers/wait-for.js';

let gateway: RunningGateway;
let proxy: TcpProxy;
beforeAll(async () => {
  gateway = await startGateway({ RATE_LIMIT_BURST: '1000', RATE_LIMIT_PER_SECOND: '1000', MAX_DISCONNECTION_DURATION_MS: '60000' });
  proxy = await startTcpProxy(gateway.port);
});
afterAll(async () => { await proxy.close(); await gateway.close(); });

it.each(['polling', 'websocket'] as const)('exp %s', async (t) => {
  const pool = new ClientPool([t]);
  const aliceClient = pool.client(proxy.url, { name: 'alice' });
  const alice = await aliceClient.join('r-' + t);
  const bob = await pool.client(gateway.url, { name: 'bob' }).join('r-' + t);
  const log: string[] = [];
  alice.on('message', (m: ChatMessage) => log.push('msg ' + m.text));
  alice.on('presence', (c) => log.push(`presence ${c.type} ${c.member.name}`));
  aliceClient.onState((s) => log.push('state ' + s + ' recovered=' + aliceClient.socket.recovered));
  aliceClient.socket.onAnyOutgoing((e: string) => log.push('out ' + e));
  aliceClient.socket.onAny((e: string) => log.push('in ' + e));
  aliceClient.socket.on('connect', () => log.push('connect event recovered=' + aliceClient.socket.recovered));
  await bob.send('before');
  await waitFor(() => log.includes('msg before'));
  proxy.setOffline(true);
  await waitFor(() => aliceClient.state === 'reconnecting');
  for (const x of ['m1', 'm2', 'm3']) await bob.send(x);
  proxy.setOffline(false);
  await aliceClient.ready();
  await bob.send('after');
  await waitFor(() => log.includes('msg after'));
  console.log(t, log);
  pool.closeAll();
  expect(1).toBe(1);
});
