import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { serveCommands } from '../harness/child-runtime.js';
import type { ServerCommands } from '../harness/ipc.js';

/**
 * Child entry: the ceiling. A raw `ws` server with no protocol at all: on `/echo` every frame goes back
 * to its sender; on `/fanout` every frame goes to every connection on `/fanout`, sender included.
 * Nothing built on WebSocket in Node can beat it on this machine.
 */
const httpServer = createServer();
const wss = new WebSocketServer({ server: httpServer, perMessageDeflate: false, skipUTF8Validation: true });
const fanout = new Set<WebSocket>();

wss.on('connection', (ws, request) => {
  if (request.url?.startsWith('/fanout')) {
    fanout.add(ws);
    ws.on('close', () => fanout.delete(ws));
    ws.on('message', (data: Buffer) => {
      for (const member of fanout) member.send(data, { binary: false });
    });
  } else {
    ws.on('message', (data: Buffer) => ws.send(data, { binary: false }));
  }
});

await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
const { port } = httpServer.address() as AddressInfo;
serveCommands<ServerCommands>({ sockets: () => wss.clients.size }, { url: `http://127.0.0.1:${port}` });
