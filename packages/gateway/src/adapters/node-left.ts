import { MongoAdapter } from '@switchyard/mongo-adapter';

/*
 * "Node left": another gateway node (or worker) that this node's adapter stopped counting on, because
 * it announced its close or went silent past the heartbeat timeout. The MongoDB adapter reports it as
 * its public `node-left` event; our node:cluster adapter as `onNodeLeft`. An in-memory adapter has no
 * other node, and no such hook.
 */

export interface NodeLeft {
  uid: string;
  reason: 'closed' | 'timeout';
}

export type NodeLeftListener = (left: NodeLeft) => void;

export interface NodeLeftHook {
  onNodeLeft(listener: NodeLeftListener): () => void;
}

/** The node-left hook of a namespace's adapter, whichever adapter it is; undefined when it has none. */
export function nodeLeftHookOf(adapter: unknown): NodeLeftHook | undefined {
  if (typeof (adapter as Partial<NodeLeftHook> | null)?.onNodeLeft === 'function') return adapter as NodeLeftHook;
  if (!(adapter instanceof MongoAdapter)) return undefined;
  const self = adapter.health().node;
  return {
    onNodeLeft(listener) {
      const onNodeLeft = ({
        node,
        nsp,
        uid,
        reason,
      }: {
        node: string;
        nsp: string;
        uid: string;
        reason: NodeLeft['reason'];
      }): void => {
        // The adapter's events are shared by every namespace (and every server of one factory).
        if (node === self && nsp === adapter.nspName) listener({ uid, reason });
      };
      adapter.events.on('node-left', onNodeLeft);
      return () => void adapter.events.off('node-left', onNodeLeft);
    },
  };
}
