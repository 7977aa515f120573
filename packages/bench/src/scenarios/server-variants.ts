import type { AuthSpec } from '../load/auth.js';
import type { StartServer } from './server-workload.js';
import { BENCH_JWT_SECRET, packageExists, startBareServer, startGateway, startWsServer } from './targets.js';

/** How clients of servers without auth connect (bare socket.io, raw `ws`, the anonymous gateway). */
export const ANONYMOUS: AuthSpec = { mode: 'anonymous' };
/** How clients of the JWT gateway connect: tokens signed with the secret the gateway is started with. */
export const GATEWAY_JWT: AuthSpec = { mode: 'jwt', secret: BENCH_JWT_SECRET };

/** The servers the scenarios compare, each started the same way in every scenario that has it. */
export const bareServer: StartServer = (context) => startBareServer(context);
export const wsServer: StartServer = (context) => startWsServer(context);
export const jwtGateway: StartServer = (context) => startGateway(context, { auth: 'jwt' });
export const anonymousGateway: StartServer = (context) => startGateway(context, { auth: 'anonymous' });

/**
 * `baseline` followed by the gateway's variants. The bench must also run in a checkout where the gateway
 * is not written yet, so its rows are then left out and `notes` says why.
 */
export function withGatewayVariants<V>(baseline: V[], gateway: V[], notes: string[]): V[] {
  if (packageExists('gateway')) return [...baseline, ...gateway];
  notes.push('The gateway package is not written yet in this checkout: its rows are missing.');
  return baseline;
}
