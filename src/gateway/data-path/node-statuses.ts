import type { NodeClient, NodeWorkStatus } from '../../rpc/index.js';

/** One node's work status, or why it could not be read. */
export type NodeStatusRow = NodeWorkStatus | { nodeId: string; error: string };

/**
 * Every node's work status (scrub, repair, audit, rebalance, gc and the other workers' figures): what
 * `tessera admin status` prints and the admin API's cluster status answers. With `startFast` defined,
 * a scrub pass is started on each node first (fast: no rate limit). A node that does not answer in
 * `timeoutMs` is a row with its error, not a failure of the whole.
 */
export async function readNodeStatuses(
  clients: readonly Pick<NodeClient, 'nodeId' | 'workStatus' | 'startScrub'>[],
  options: { timeoutMs: number; startFast?: boolean | undefined },
): Promise<NodeStatusRow[]> {
  const answers = await Promise.allSettled(
    clients.map(async (client) => {
      const signal = AbortSignal.timeout(options.timeoutMs);
      if (options.startFast !== undefined) await client.startScrub(options.startFast, { signal });
      return client.workStatus({ signal });
    }),
  );
  return answers.map((answer, i) => (answer.status === 'fulfilled' ? answer.value : { nodeId: clients[i]?.nodeId ?? '?', error: (answer.reason as Error).message }));
}
