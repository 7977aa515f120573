import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { serveCommands } from '../harness/child-runtime.js';
import type { ServerCommands } from '../harness/ipc.js';
import { attachBareChat } from './bare-chat.js';
import { createBenchAdapter } from './adapters.js';
import { readServerConfig } from './server-config.js';

/** Child entry: a bare socket.io server (the baseline), optionally with a cluster adapter. */
const config = readServerConfig();
const adapter = await createBenchAdapter(config);
const httpServer = createServer();
const io = new Server(httpServer, {
  transports: config.transports,
  ...(config.recovery ? { connectionStateRecovery: {} } : {}),
  ...(adapter ? { adapter: adapter.factory } : {}),
});
attachBareChat(io);
await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
const { port } = httpServer.address() as AddressInfo;

serveCommands<ServerCommands>(
  { sockets: () => io.engine.clientsCount },
  { url: `http://127.0.0.1:${port}`, adapter: config.adapter },
);
