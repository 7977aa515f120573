export { DEADLINE_MS, waitFor, withDeadline, type WaitOptions } from './wait-for.js';
export { closeGateways, startGateway, type StartedGateway } from './gateways.js';
export {
  clientOn,
  clientTo,
  closeSockets,
  connect,
  connected,
  connectedSocket,
  connectError,
  disconnected,
  nextEvent,
  nodeOf,
  recordEvents,
  request,
  roundTrip,
  send,
  socketTo,
  transportOf,
  upgradeErrorsOf,
  TRANSPORTS,
  type ClientOptions,
  type ConnectOptions,
  type TestSocket,
  type Transport,
} from './sockets.js';
export { closeStreams, openStream, refusal, type OpenedStream } from './sse.js';
export { closeRawSockets, rawSocket, type RawEvent, type RawSocket } from './raw-socket.js';
export { API_KEY, JWT_SECRET, metricValue, publish, statusOf, tokenFor } from './http.js';
export { startTcpProxy, type TcpProxy } from './tcp-proxy.js';
export { openRawWebSocket, type RawWebSocket } from './raw-websocket.js';
export {
  engineHandshake,
  engineOpen,
  enginePoll,
  enginePollUntil,
  enginePost,
  engineRequest,
  engineUpgrade,
  type RawAnswer,
  type UpgradedSocket,
} from './engine-io.js';
export { rawHttp } from './raw-http.js';
export {
  E2E_DEADLINE_MS,
  freePort,
  REPO,
  startNode,
  stopEverything,
  stopNode,
  trackChild,
  trackTempDir,
  type GatewayNode,
} from './nodes.js';
export { NGINX_BIN, NGINX_TEMPLATES, startNginx, type Nginx, type NginxOptions } from './nginx.js';
export { INSTALL_SYSTEM_PACKAGES, requireExecutable, type SystemBinary } from './system-binary.js';
export { MongoStandIn, mongoEnv, startMongoGateways } from './standin.js';
export { ClientPool } from './sdk-clients.js';

import { closeGateways } from './gateways.js';
import { closeRawSockets } from './raw-socket.js';
import { closeSockets } from './sockets.js';
import { closeStreams } from './sse.js';

/** afterEach: every socket, stream and in-process gateway a test started is closed. */
export async function closeAll(): Promise<void> {
  closeSockets();
  closeRawSockets();
  closeStreams();
  await closeGateways();
}
