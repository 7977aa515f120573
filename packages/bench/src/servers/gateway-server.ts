import { createGateway, loadConfig } from '@switchyard/gateway';
import { serveCommands } from '../harness/child-runtime.js';
import type { ServerCommands } from '../harness/ipc.js';

/**
 * Child entry: the gateway exactly as its `switchyard` command builds it (environment → config →
 * gateway), plus the harness's IPC commands for memory and CPU.
 */
const gateway = await createGateway(loadConfig(process.env));
const { url } = await gateway.listen();

serveCommands<ServerCommands>({ sockets: () => gateway.io.engine.clientsCount }, { url });
