import { locate, type Ring } from '../placement/index.js';
import { NodeClient } from '../rpc/index.js';

/** Options for the per-node clients a gateway keeps. */
export interface ClusterViewOptions {
  clusterSecret: string;
  connectionsPerNode?: number;
  headersTimeoutMs?: number;
  bodyTimeoutMs?: number;
}

/**
 * The gateway's only state: the current ring and one keep-alive client per node in it.
 * A newer ring epoch replaces the view; clients of nodes that left are closed.
 */
export class ClusterView {
  private ring: Ring;
  private clients = new Map<string, NodeClient>();
  private readonly options: ClusterViewOptions;

  constructor(ring: Ring, options: ClusterViewOptions) {
    this.options = options;
    this.ring = ring;
    this.syncClients();
  }

  /** The ring in use. */
  get current(): Ring {
    return this.ring;
  }

  /** Switches to a newer ring; older or equal epochs are ignored. Returns whether it switched. */
  async update(ring: Ring): Promise<boolean> {
    if (ring.epoch <= this.ring.epoch) return false;
    this.ring = ring;
    await Promise.all(this.syncClients().map((client) => client.close()));
    return true;
  }

  /** The ordered node set of a key: element i stores shard i. */
  nodesFor(bucket: string, key: string): NodeClient[] {
    return locate(this.ring, bucket, key).nodes.map((node) => this.client(node.id));
  }

  /** A client for every node in the ring. */
  allNodes(): NodeClient[] {
    return [...this.clients.values()];
  }

  /** Closes every client. */
  async close(): Promise<void> {
    await Promise.all([...this.clients.values()].map((client) => client.close()));
    this.clients.clear();
  }

  private client(nodeId: string): NodeClient {
    const client = this.clients.get(nodeId);
    if (client === undefined) throw new Error(`ring names unknown node ${nodeId}`);
    return client;
  }

  /** Creates clients for new nodes (or moved addresses) and returns the ones no longer needed. */
  private syncClients(): NodeClient[] {
    const next = new Map<string, NodeClient>();
    const stale: NodeClient[] = [];
    for (const node of this.ring.nodes) {
      const existing = this.clients.get(node.id);
      if (existing !== undefined && existing.address === node.address) {
        next.set(node.id, existing);
        continue;
      }
      if (existing !== undefined) stale.push(existing);
      next.set(
        node.id,
        new NodeClient({
          nodeId: node.id,
          address: node.address,
          clusterSecret: this.options.clusterSecret,
          ...(this.options.connectionsPerNode === undefined ? {} : { connections: this.options.connectionsPerNode }),
          ...(this.options.headersTimeoutMs === undefined ? {} : { headersTimeoutMs: this.options.headersTimeoutMs }),
          ...(this.options.bodyTimeoutMs === undefined ? {} : { bodyTimeoutMs: this.options.bodyTimeoutMs }),
        }),
      );
    }
    for (const [id, client] of this.clients) if (!next.has(id)) stale.push(client);
    this.clients = next;
    return stale;
  }
}
