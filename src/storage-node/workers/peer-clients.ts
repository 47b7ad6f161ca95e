import type { RingNode } from '../../placement/index.js';
import { NodeClient } from '../../rpc/index.js';

/** The node-side view of its peers a worker talks to (tests inject fakes). */
export type PeerClient = Pick<NodeClient, 'nodeId' | 'objectStatus' | 'versionStatus' | 'versionLookup' | 'readShard' | 'putShard' | 'commit' | 'partitionDigest' | 'partitionEntries' | 'partitionVersions' | 'partitionGone' | 'listBuckets' | 'putBucket' | 'listVersions' | 'deleteVersion' | 'lease' | 'leaseAnswer' | 'applyIndex' | 'exportIndex' | 'dropIndex' | 'health' | 'offerChanges' | 'changesDone'>;

/** Connections kept per peer when not told otherwise: as many as the repair worker's default concurrency. */
export const DEFAULT_PEER_CONNECTIONS = 4;

/** Sizing of the peer connection pools. */
export interface PeerClientsOptions {
  /**
   * Connections kept per peer. At least the concurrency of any worker whose task holds a connection to
   * one peer while it waits for another (repair: k sources stream into the target): fewer, and such tasks
   * can wait on each other until their timeouts.
   */
  connectionsPerPeer?: number;
}

/**
 * Signed node-protocol clients for the other nodes (and this one: repair writes to whichever node the
 * ring names through the same protocol), one per address, shared by every worker of a node.
 */
export class PeerClients {
  readonly connectionsPerPeer: number;
  private readonly clusterSecret: string;
  private readonly clients = new Map<string, NodeClient>();

  constructor(clusterSecret: string, options: PeerClientsOptions = {}) {
    this.clusterSecret = clusterSecret;
    this.connectionsPerPeer = Math.max(1, Math.floor(options.connectionsPerPeer ?? DEFAULT_PEER_CONNECTIONS));
  }

  /** The client of a ring node. */
  get(node: RingNode): PeerClient {
    const key = `${node.id}@${node.address}`;
    let client = this.clients.get(key);
    if (client === undefined) {
      client = new NodeClient({ nodeId: node.id, address: node.address, clusterSecret: this.clusterSecret, connections: this.connectionsPerPeer, headersTimeoutMs: 5_000 });
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
