import { randomBytes } from 'node:crypto';
import { MessageType, type ClusterResponse } from 'socket.io-adapter';

/**
 * Requests this adapter tracks itself, where socket.io-adapter's ClusterAdapterWithHeartbeat cannot be
 * used as is:
 *
 * - `serverSideEmit` with an acknowledgement: the base class waits a fixed 5 s and reports "missing N
 *   responses"; `@socket.io/mongo-adapter` honours `requestsTimeout` and reports "only N responses received
 *   out of M", which applications migrating from it match on.
 * - broadcasts with acknowledgements: the base class delivers the local part at once, which would overtake
 *   this node's broadcasts still waiting for their offset (see `LocalDeliveryQueue`); and a node that
 *   leaves before sending its client count would make socket.io wait for the whole timeout.
 */

/** The error text of `@socket.io/mongo-adapter` (and of socket.io-adapter's ClusterAdapter) on timeout. */
export function timeoutError(received: number, expected: number): Error {
  return new Error(`timeout reached: only ${received} responses received out of ${expected}`);
}

interface ServerSideRequest {
  ack: (error: Error | null, responses: unknown[]) => void;
  missing: Set<string>;
  expected: number;
  responses: unknown[];
  timer: NodeJS.Timeout;
}

interface AckRequest {
  clientCount: (count: number) => void;
  ack: (...args: unknown[]) => void;
  /** Nodes that have not sent their client count yet. */
  missing: Set<string>;
  timer: NodeJS.Timeout;
}

export class RequestTracker {
  private readonly serverSide = new Map<string, ServerSideRequest>();
  private readonly acks = new Map<string, AckRequest>();

  /** Starts a serverSideEmit request to `nodes`; returns its id (undefined: nobody to ask, already answered). */
  startServerSide(
    nodes: readonly string[],
    timeoutMs: number,
    ack: (error: Error | null, responses: unknown[]) => void,
  ): string | undefined {
    if (nodes.length === 0) {
      ack(null, []);
      return undefined;
    }
    const requestId = randomBytes(8).toString('hex');
    const request: ServerSideRequest = {
      ack,
      missing: new Set(nodes),
      expected: nodes.length,
      responses: [],
      timer: setTimeout(() => {
        if (!this.serverSide.delete(requestId)) return;
        ack(timeoutError(request.responses.length, request.expected), request.responses);
      }, timeoutMs),
    };
    this.serverSide.set(requestId, request);
    return requestId;
  }

  /** Starts tracking a broadcast with acknowledgements sent to `nodes`; returns its request id. */
  startAck(
    nodes: readonly string[],
    timeoutMs: number,
    clientCount: (count: number) => void,
    ack: (...args: unknown[]) => void,
  ): string {
    const requestId = randomBytes(8).toString('hex');
    // socket.io times the acknowledgements out itself; this only forgets the request afterwards.
    const timer = setTimeout(() => this.acks.delete(requestId), timeoutMs);
    timer.unref();
    this.acks.set(requestId, { clientCount, ack, missing: new Set(nodes), timer });
    return requestId;
  }

  /** Handles a response addressed to one of our requests; false when it is not ours. */
  onResponse(response: ClusterResponse): boolean {
    const requestId = (response.data as { requestId?: unknown } | undefined)?.requestId;
    if (typeof requestId !== 'string') return false;
    switch (response.type) {
      case MessageType.SERVER_SIDE_EMIT_RESPONSE: {
        const request = this.serverSide.get(requestId);
        if (!request) return false;
        if (!request.missing.delete(response.uid)) return true;
        request.responses.push(response.data.packet);
        this.completeIfDone(requestId, request);
        return true;
      }
      case MessageType.BROADCAST_CLIENT_COUNT: {
        const request = this.acks.get(requestId);
        if (!request) return false;
        if (request.missing.delete(response.uid)) request.clientCount(response.data.clientCount);
        return true;
      }
      case MessageType.BROADCAST_ACK: {
        const request = this.acks.get(requestId);
        if (!request) return false;
        request.ack(response.data.packet);
        return true;
      }
      default:
        return false;
    }
  }

  /** A node stopped being counted on: stop waiting for it (no answer, zero clients). */
  nodeGone(uid: string): void {
    for (const [requestId, request] of this.serverSide) {
      if (request.missing.delete(uid)) this.completeIfDone(requestId, request);
    }
    for (const request of this.acks.values()) {
      if (request.missing.delete(uid)) request.clientCount(0);
    }
  }

  clear(): void {
    for (const request of this.serverSide.values()) clearTimeout(request.timer);
    for (const request of this.acks.values()) clearTimeout(request.timer);
    this.serverSide.clear();
    this.acks.clear();
  }

  private completeIfDone(requestId: string, request: ServerSideRequest): void {
    if (request.missing.size > 0) return;
    clearTimeout(request.timer);
    this.serverSide.delete(requestId);
    request.ack(null, request.responses);
  }
}
