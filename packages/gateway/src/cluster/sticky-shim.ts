/*
 * The one place the gateway uses an internal of @socket.io/sticky (2.0.x): the IPC messages its
 * primary binds a session to a worker with. The primary routes a request by the first 20 `[\w-]`
 * characters after `sid=`, but its worker half (`setupWorker`) registers whole session ids, and ours
 * are longer (they end with the node and worker, see session-id.ts). So each worker also registers
 * the routed part of its sessions, with the very message `setupWorker` sends, and withdraws it when
 * the session closes. test/sticky-shim.test.ts runs the real primary against real workers and fails
 * if a version stops routing by these messages.
 */

const CONNECTION = 'sticky:connection';
const DISCONNECTION = 'sticky:disconnection';

/** Tells @socket.io/sticky's primary that requests carrying `key` belong to this worker. */
export function announceStickyKey(key: string): void {
  process.send?.({ type: CONNECTION, data: key });
}

/** The session behind `key` closed: the primary may route its key anywhere again. */
export function withdrawStickyKey(key: string): void {
  process.send?.({ type: DISCONNECTION, data: key });
}
