import type { RingNode } from '../../placement/index.js';
import { NodeClient } from '../../rpc/index.js';

/** The node-side view of its peers a worker talks to (tests inject fakes). */
export type PeerClient = Pick<NodeClient, 'nodeId' | 'objectStatus' | 'readShard' | 'putShard' | 'commit' | 'partitionDigest' | 'partitionEntries' | 'listBuckets'>;

/**
 * Signed node-protocol clients for the other nodes (and this one: repair writes to whichever node the
 * ring names through the same protocol), one per address, shared by every worker of a node.
 */
export class PeerClients {
  private readonly clusterSecret: string;
  private readonly clients = new Map<string, NodeClient>();

  constructor(clusterSecret: string) {
    this.clusterSecret = clusterSecret;
  }

  /** The client of a ring node. */
  get(node: RingNode): PeerClient {
    const key = `${node.id}@${node.address}`;
    let client = this.clients.get(key);
    if (client === undefined) {
      client = new NodeClient({ nodeId: node.id, address: node.address, clusterSecret: this.clusterSecret, connections: 4, headersTimeoutMs: 5_000 });
      this.clients.set(key, client);
    }
    return client;
  }

  /** Closes every connection pool. */
  async close(): Promise<void> {
    await Promise.all([...this.clients.values()].map((client) => client.close()));
    this.clients.clear();
  }
}
