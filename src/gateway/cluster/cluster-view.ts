import { RingLocator, sameNodes, type Placement, type Ring, type RingNode } from '../../placement/index.js';
import { NodeClient, followingDeadlineMs, quorumLatencyBoundMs, type LocalLink } from '../../rpc/index.js';

/** Options for the per-node clients a gateway keeps. */
export interface ClusterViewOptions {
  clusterSecret: string;
  connectionsPerNode?: number;
  headersTimeoutMs?: number;
  bodyTimeoutMs?: number;
  /** The recorder of one node's requests (metrics), asked once per node client. */
  nodeCallObserver?: ((nodeId: string) => (outcome: string, seconds: number) => void) | undefined;
  /** Share of an object's nodes a quorum needs (W / n): deadlines follow the node that completes one. */
  quorumFraction?: number;
  /** In-process links to nodes running in this process, by node id: their batched calls skip HTTP. */
  localLinks?: ReadonlyMap<string, LocalLink> | undefined;
}

/** How long a computed latency bound is reused: a request pays a clock read, not a sort of every node. */
const LATENCY_BOUND_REFRESH_MS = 100;

/**
 * The node sets a read of one key consults: `nodes` under the ring in use (element i stores shard i),
 * and, while the key's set differs in the ring it replaced, `previous` under that ring: a rebalance may
 * not have moved the key yet, so its acknowledged versions can still live only there.
 */
export interface KeySets {
  nodes: readonly NodeClient[];
  previous?: readonly NodeClient[];
}

/**
 * The gateway's only state: the ring in use, the ring it replaced, and one keep-alive client per node
 * of either. Writes go to the current ring's sets; reads consult the previous ring's sets too (see
 * `readSets`), so a ring change never hides data the rebalance has not moved yet. The previous ring
 * is kept until the next change: operators wait for a rebalance to finish (`tessera admin status`)
 * before changing the ring again, so one ring of history covers every shard not yet in place. A
 * gateway that did not see the change itself (started during a rebalance, or skipping epochs) learns
 * the previous ring from the nodes (previous-ring-finder.ts) and installs it with `installPrevious`.
 */
export class ClusterView {
  // Both rings held compiled for lookups, once per ring.
  private ring: RingLocator;
  private previousRing: RingLocator | undefined;
  private clients = new Map<string, NodeClient>();
  private readonly options: ClusterViewOptions;
  private latencyBound = { valueMs: 0, computedAtMs: -Infinity };

  constructor(ring: Ring, options: ClusterViewOptions) {
    this.options = options;
    this.ring = new RingLocator(ring);
    this.syncClients();
  }

  /** The ring in use. */
  get current(): Ring {
    return this.ring.ring;
  }

  /** The ring the current one replaced, if any. */
  get previous(): Ring | undefined {
    return this.previousRing?.ring;
  }

  /** Switches to a newer ring; older or equal epochs are ignored. Returns whether it switched. */
  async update(ring: Ring): Promise<boolean> {
    if (ring.epoch <= this.ring.ring.epoch) return false;
    this.previousRing = this.ring;
    this.ring = new RingLocator(ring);
    await Promise.all(this.syncClients().map((client) => client.close()));
    return true;
  }

  /**
   * Installs `ring` as the ring the current one replaced, learned after the fact; the current ring is
   * unchanged. Taken only while the current ring is still epoch `successorEpoch` (the ring the nodes
   * said `ring` was replaced by), when `ring` is older than it and newer than the previous ring held:
   * after a gap of epochs `update` made the ring held until then the previous one, and the ring the
   * nodes name is newer than that. Returns whether it was installed.
   */
  async installPrevious(ring: Ring, successorEpoch: number): Promise<boolean> {
    const current = this.ring.ring.epoch;
    if (current !== successorEpoch || ring.epoch >= current) return false;
    if (this.previousRing !== undefined && ring.epoch <= this.previousRing.ring.epoch) return false;
    this.previousRing = new RingLocator(ring);
    await Promise.all(this.syncClients().map((client) => client.close()));
    return true;
  }

  /** The ordered node set of a key under the current ring: element i stores shard i. Writes go here. */
  nodesFor(bucket: string, key: string): NodeClient[] {
    return this.setOf(this.ring, bucket, key);
  }

  /** Where a read of the key looks: the current set, and the previous ring's set when it differs. */
  readSets(bucket: string, key: string): KeySets {
    const placed = this.ring.locate(bucket, key).nodes;
    const nodes = this.clientsOf(placed);
    const before = this.previousRing?.locate(bucket, key).nodes;
    return before === undefined || sameNodes(before, placed) ? { nodes } : { nodes, previous: this.clientsOf(before) };
  }

  /** A client for every node of the current ring. */
  allNodes(): NodeClient[] {
    return this.ring.ring.nodes.map((node) => this.client(node.id));
  }

  /**
   * How long to give one node call: `floorMs` (the configured timeout), stretched to follow the
   * latency the nodes have shown (see rpc/latency-estimator.ts), so a busy machine gets longer
   * deadlines instead of failed requests, while a hung node among healthy ones does not.
   */
  deadlineMs(floorMs: number): number {
    const nowMs = performance.now();
    if (nowMs - this.latencyBound.computedAtMs >= LATENCY_BOUND_REFRESH_MS) {
      const estimators = [...this.clients.values()].map((client) => client.latency);
      this.latencyBound = { valueMs: quorumLatencyBoundMs(estimators, this.options.quorumFraction ?? 1), computedAtMs: nowMs };
    }
    return followingDeadlineMs(floorMs, this.latencyBound.valueMs);
  }

  /** Closes every client. */
  async close(): Promise<void> {
    await Promise.all([...this.clients.values()].map((client) => client.close()));
    this.clients.clear();
  }

  private setOf(ring: RingLocator, bucket: string, key: string): NodeClient[] {
    return this.clientsOf(ring.locate(bucket, key).nodes);
  }

  private clientsOf(set: readonly RingNode[]): NodeClient[] {
    return set.map((node) => this.client(node.id));
  }

  /** A key's placement in the current ring. */
  locate(bucket: string, key: string): Placement {
    return this.ring.locate(bucket, key);
  }

  /** The client of a node of the current or previous ring. */
  clientFor(node: RingNode): NodeClient {
    return this.client(node.id);
  }

  private client(nodeId: string): NodeClient {
    const client = this.clients.get(nodeId);
    if (client === undefined) throw new Error(`ring names unknown node ${nodeId}`);
    return client;
  }

  /**
   * Creates clients for the nodes of the current and previous rings (the current ring's address wins
   * for a node in both) and returns the ones no longer needed.
   */
  private syncClients(): NodeClient[] {
    const wanted = new Map<string, string>();
    for (const node of this.previousRing?.ring.nodes ?? []) wanted.set(node.id, node.address);
    for (const node of this.ring.ring.nodes) wanted.set(node.id, node.address);
    const next = new Map<string, NodeClient>();
    const stale: NodeClient[] = [];
    for (const [id, address] of wanted) {
      const existing = this.clients.get(id);
      if (existing !== undefined && existing.address === address) {
        next.set(id, existing);
        continue;
      }
      if (existing !== undefined) stale.push(existing);
      next.set(
        id,
        new NodeClient({
          nodeId: id,
          address,
          clusterSecret: this.options.clusterSecret,
          ...(this.options.connectionsPerNode === undefined ? {} : { connections: this.options.connectionsPerNode }),
          ...(this.options.headersTimeoutMs === undefined ? {} : { headersTimeoutMs: this.options.headersTimeoutMs }),
          ...(this.options.bodyTimeoutMs === undefined ? {} : { bodyTimeoutMs: this.options.bodyTimeoutMs }),
          observe: this.options.nodeCallObserver?.(id),
          local: this.options.localLinks?.get(id),
        }),
      );
    }
    for (const [id, client] of this.clients) if (!next.has(id)) stale.push(client);
    this.clients = next;
    return stale;
  }
}
