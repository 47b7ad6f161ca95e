import { LRUCache } from 'lru-cache';
import type { Ring } from '../../placement/index.js';
import { decideQuorum, fanOut, fanOutUntil, majority, type BucketUsageResponse } from '../../rpc/index.js';
import type { ClusterView } from '../cluster/index.js';
import { quorumError } from '../s3/index.js';

/** How long a bucket's usage, as the nodes reported it, is reused (plus what this gateway admitted since). */
export const USAGE_CACHE_MS = 1_000;
/**
 * How long a write's usage read waits for the nodes still silent once a majority answered: a hung
 * node costs a quota'd bucket's writes this much once a second, not the node timeout. The answering
 * nodes' share of the ring makes up for it (estimateUsage).
 */
export const USAGE_STRAGGLER_GRACE_MS = 250;
/** Most buckets whose usage a gateway keeps cached: bounded against a flood of names. */
const USAGE_CACHE_ENTRIES = 10_000;

/** A bucket's usage as a gateway estimates it from its nodes' counts (docs/quotas.md). */
export interface UsageEstimate {
  /** Stored object versions (delete markers not counted). */
  objects: number;
  /** Their logical bytes. */
  bytes: number;
  /** True when every node of the ring answered: the sum is then exact to what the nodes hold. */
  complete: boolean;
}

/** One node's counts of one bucket. */
type NodeCounts = { nodeId: string; objects: number; bytes: number };

/**
 * The bucket's usage from its nodes' counts. Each version is counted by every node of its key's set, so
 * with every node answering the total is the sum over the ring's replicas. A node that did not answer
 * is made up for by its share of the ring: the answering nodes hold `slots / partitions` copies of the
 * bucket, which the sum is divided by (an estimate while a node is away, exact otherwise).
 */
export function estimateUsage(ring: Ring, answers: readonly NodeCounts[]): UsageEstimate {
  const slots = ring.table.slotsById();
  let held = 0;
  let objects = 0;
  let bytes = 0;
  for (const answer of answers) {
    held += slots.get(answer.nodeId) ?? 0;
    objects += answer.objects;
    bytes += answer.bytes;
  }
  const copies = ring.table.partitions === 0 ? 0 : held / ring.table.partitions;
  const complete = ring.nodes.every((node) => answers.some((answer) => answer.nodeId === node.id));
  if (copies === 0) return { objects: 0, bytes: 0, complete };
  return { objects: Math.round(objects / copies), bytes: Math.round(bytes / copies), complete };
}

/**
 * Buckets' usage, read from the nodes' counters (never by walking a bucket) and cached briefly per
 * bucket. What this gateway admits meanwhile is added to its cached figure at once (`reserve`), so a
 * burst of writes through one gateway cannot each see the same room; other gateways' writes show at
 * the next read.
 */
export class BucketUsageReader {
  private readonly cluster: ClusterView;
  private readonly nodeTimeoutMs: () => number;
  private readonly cache: LRUCache<string, UsageEstimate>;
  /** A read under way per bucket: requests arriving meanwhile share it. */
  private readonly reading = new Map<string, Promise<UsageEstimate>>();

  constructor(options: { cluster: ClusterView; nodeTimeoutMs: () => number; cacheTtlMs?: number }) {
    this.cluster = options.cluster;
    this.nodeTimeoutMs = options.nodeTimeoutMs;
    this.cache = new LRUCache({ max: USAGE_CACHE_ENTRIES, ttl: options.cacheTtlMs ?? USAGE_CACHE_MS });
  }

  /** A bucket's usage: from the cache, or asked of every node (a majority must answer). */
  async read(bucket: string): Promise<UsageEstimate> {
    const cached = this.cache.get(bucket);
    if (cached !== undefined) return cached;
    let reading = this.reading.get(bucket);
    if (reading === undefined) {
      reading = this.readNodes(bucket).finally(() => this.reading.delete(bucket));
      this.reading.set(bucket, reading);
    }
    return reading;
  }

  /** Counts a write this gateway admitted into its cached figure until the next read of the nodes. */
  reserve(bucket: string, objects: number, bytes: number): void {
    const cached = this.cache.get(bucket, { updateAgeOnGet: false });
    if (cached !== undefined) this.cache.set(bucket, { ...cached, objects: cached.objects + objects, bytes: cached.bytes + bytes }, { noUpdateTTL: true });
  }

  /** Every bucket's usage, asked of every node now, waiting for each (for the admin command and metrics; not cached). */
  async readAll(): Promise<Map<string, UsageEstimate>> {
    const answers = await this.askNodes(undefined, 'every');
    const byBucket = new Map<string, NodeCounts[]>();
    for (const { nodeId, rows } of answers) {
      for (const row of rows) {
        const list = byBucket.get(row.name) ?? [];
        list.push({ nodeId, objects: row.objects, bytes: row.bytes });
        byBucket.set(row.name, list);
      }
    }
    const answered = answers.map((answer) => ({ nodeId: answer.nodeId, objects: 0, bytes: 0 }));
    const ring = this.cluster.current;
    const estimates = new Map<string, UsageEstimate>();
    // A node that answered but holds nothing of a bucket still counts as having answered for it.
    for (const [bucket, counts] of byBucket) estimates.set(bucket, estimateUsage(ring, [...counts, ...answered.filter((a) => !counts.some((c) => c.nodeId === a.nodeId))]));
    return estimates;
  }

  private async readNodes(bucket: string): Promise<UsageEstimate> {
    const answers = await this.askNodes(bucket, 'majority');
    const counts = answers.map(({ nodeId, rows }) => ({ nodeId, objects: rows[0]?.objects ?? 0, bytes: rows[0]?.bytes ?? 0 }));
    const estimate = estimateUsage(this.cluster.current, counts);
    this.cache.set(bucket, estimate);
    return estimate;
  }

  /**
   * The nodes' counts: from `every` node that answers within the node timeout, or, for a write's check,
   * from a `majority` and whichever others answer within USAGE_STRAGGLER_GRACE_MS after it.
   */
  private async askNodes(bucket: string | undefined, wait: 'every' | 'majority'): Promise<{ nodeId: string; rows: BucketUsageResponse['buckets'] }[]> {
    const nodes = this.cluster.allNodes();
    const needed = majority(nodes.length);
    const signal = AbortSignal.timeout(this.nodeTimeoutMs());
    const call = (node: (typeof nodes)[number]): Promise<BucketUsageResponse['buckets']> => node.bucketUsage(bucket, { signal });
    const outcomes =
      wait === 'every'
        ? await fanOut(nodes, call)
        : await fanOutUntil(
            nodes,
            call,
            (so) => so.filter((outcome) => outcome.ok).length >= needed,
            USAGE_STRAGGLER_GRACE_MS,
            (so) => so.length === nodes.length,
          );
    const decision = decideQuorum(outcomes, needed);
    if (!decision.met) throw quorumError('usage read', decision.failures, bucket);
    return decision.successes.map(({ nodeId, value }) => ({ nodeId, rows: value }));
  }
}
