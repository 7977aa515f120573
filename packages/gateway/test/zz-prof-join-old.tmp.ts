import { io as ioClient } from 'socket.io-client';
import { createGateway, loadConfig } from '../.tmp-old/src/index.ts';
const N = Number(process.env.N ?? 1000);
const gw = await createGateway(loadConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', RATE_LIMIT_BURST: '1000' }));
if (process.env.NOPRES) { const e = gw.roomEvents.emit.bind(gw.roomEvents); (gw.roomEvents as any).emit = (r: any, ev: any, p: any, o: any) => { if (ev !== 'presence:join') e(r, ev, p, o); }; }
const { url } = await gw.listen();
const clients: any[] = [];
let presenceEvents = 0;
const t0 = performance.now();
let next = 0;
async function worker() {
  while (next < N) {
    const i = next++;
    const c = ioClient(url, { transports: ['websocket'], forceNew: true, auth: { name: `u${i}`, userId: `u${i}` } });
    c.on('presence:join', () => presenceEvents++);
    clients.push(c);
    await new Promise((r) => c.once('connect', r));
    const ack = await c.emitWithAck('room:join', { room: 'fan' });
    if (!ack.ok) throw new Error(JSON.stringify(ack));
  }
}
await Promise.all(Array.from({ length: 32 }, worker));
console.log(`joined ${N} in ${(performance.now() - t0).toFixed(0)} ms; presence events received ${presenceEvents}`);
for (const c of clients) c.disconnect();
await gw.close();
process.exit(0);
