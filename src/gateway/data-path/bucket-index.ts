import { indexEntryOf, indexOfRow, indexOwnerOf, indexShardFor, indexShardsForWrite, isNullEntry, indexShardKey, writeQuorum, type BucketRecord, type IndexIntent, type IndexOp, type NodeClient, type ObjectRecord } from '../../rpc/index.js';
import type { KeySets } from '../cluster/index.js';
import { quorumError } from '../s3/index.js';
import type { BucketRecords, IndexWrites, LookupDeps } from './path-deps.js';
import type { HybridClock } from '../../common/index.js';
import { withTimeout, type RequestScope } from './request-scope.js';

/*
 * The gateway's side of the bucket index (docs/bucket-index.md): where a key's index shard lives, and
 * the intent each write of an indexed bucket writes before it can commit and settles after.
 */

/** How long an intent stands for a write that may still commit: longer than any body takes to arrive. */
const INTENT_LIFETIME_MS = 30 * 60_000;
/** A write about to commit with less than this left on its intent announces a fresh one first. */
const INTENT_RENEW_MARGIN_MS = 5 * 60_000;

/** What writing and reading the index takes. */
export interface BucketIndexDeps extends LookupDeps, BucketRecords, IndexWrites {
  clock: HybridClock;
}

/** The bucket's index, when every version written to it is there (see BucketRecord.index). */
export type IndexedBucket = BucketRecord & { index: NonNullable<BucketRecord['index']> };

/** Whether `record` is an indexed bucket's: its listings read the index. */
export function isIndexed(record: BucketRecord | undefined): record is IndexedBucket {
  return writesIndex(record) && record.index.building !== true;
}

/** Whether writes into `record`'s bucket go to its index: an indexed bucket's, or one whose index is being built. */
export function writesIndex(record: BucketRecord | undefined): record is IndexedBucket {
  return record !== undefined && record.index !== undefined;
}

/**
 * The index that writes of `bucket`/`key` go to: the bucket's own (`record`, when the caller holds it),
 * or for a key of the uploads bucket, the uploads index of the user bucket the key names. Undefined
 * when there is none (or, for an upload, its bucket is gone: its writes will fail on their own).
 */
export async function indexFor(ctx: RequestScope<BucketRecords>, bucket: string, key: string, record: BucketRecord | undefined): Promise<BucketRecord | undefined> {
  const owner = indexOwnerOf(bucket, key);
  if (owner === undefined) return undefined;
  if (owner === bucket) return indexOfRow(record ?? (await ctx.services.buckets.require(bucket, ctx.signal)), bucket);
  const ownerRecord = await ctx.services.buckets.require(owner, ctx.signal).catch((err: unknown) => {
    if ((err as { code?: unknown }).code === 'NoSuchBucket') return undefined;
    throw err;
  });
  return indexOfRow(ownerRecord, bucket);
}

/** The id of the index shard holding `key`. */
export function indexShardOf(bucket: IndexedBucket, key: string): number {
  return indexShardFor(bucket.index, key);
}

/** The replicas of an index shard (and, while a ring change moves it, the previous ring's). */
export function indexReplicas(services: Pick<LookupDeps, 'cluster'>, bucket: IndexedBucket, shard: number): KeySets {
  return services.cluster.readSets(bucket.name, indexShardKey(bucket.createdMs, shard));
}

/** The sets a listing of an index shard reads from: its replicas, and the previous ring's while a ring change moves it. */
export function indexReadSets(services: Pick<LookupDeps, 'cluster'>, bucket: IndexedBucket, shard: number): (readonly NodeClient[])[] {
  const sets = indexReplicas(services, bucket, shard);
  return sets.previous === undefined ? [sets.nodes] : [sets.nodes, sets.previous];
}

/**
 * A write's intent on the index shard of its key: announced (durable on a write quorum of the shard's
 * replicas) before the write can commit, then settled with what committed, or abandoned when nothing did.
 * A write that fails after it may have committed on some nodes neither settles nor abandons: its intent
 * stays until it expires, and readers take the key from its own nodes meanwhile.
 */
export class KeyIntent {
  private readonly ctx: RequestScope<BucketIndexDeps>;
  private readonly bucket: IndexedBucket;
  private readonly key: string;
  /** The replicas of each shard the key's changes go to: its own, and the other side of a split under way. */
  private readonly shardReplicas: readonly (readonly NodeClient[])[];
  /** Every node of those shards, once each: where settles go. */
  private readonly replicas: readonly NodeClient[];
  /** Every intent announced for this write (a long write renews its intent before it commits). */
  private readonly ids: string[] = [];
  private expiresMs = 0;
  /** The id of an intent the commit carries instead of a write of its own. */
  private carriedId: string | undefined;

  private constructor(ctx: RequestScope<BucketIndexDeps>, bucket: IndexedBucket, key: string) {
    this.ctx = ctx;
    this.bucket = bucket;
    this.key = key;
    this.shardReplicas = indexShardsForWrite(bucket.index, key).map((shard) => indexReplicas(ctx.services, bucket, shard).nodes);
    this.replicas = everyNode(this.shardReplicas);
  }

  /**
   * Announces a write of bucket/key; undefined when the bucket keeps no index. `signal` ends the wait:
   * the client's for a write it still sends, a deadline of its own for one that must be seen through.
   */
  static async announce(
    ctx: RequestScope<BucketIndexDeps>,
    bucket: BucketRecord | undefined,
    key: string,
    id: string,
    signal: AbortSignal,
    options: { carriedBy?: readonly NodeClient[] } = {},
  ): Promise<KeyIntent | undefined> {
    if (!writesIndex(bucket)) return undefined;
    const intent = new KeyIntent(ctx, bucket, key);
    // When the key's own nodes are the shard's replicas (always, on a cluster of k + m nodes), the
    // intent travels in each node's commit and is durable wherever the commit is: no write of its own.
    const carriedBy = options.carriedBy;
    if (carriedBy !== undefined && intent.shardReplicas.every((replicas) => sameNodes(replicas, carriedBy))) {
      intent.carriedId = id;
      intent.ids.push(id);
      return intent;
    }
    await intent.write(id, signal);
    return intent;
  }

  /** The intent the commit requests carry (see announce), its deadline counted from now; undefined when it was written on its own. */
  carried(): IndexIntent | undefined {
    if (this.carriedId === undefined) return undefined;
    return { op: 'intent', bucket: this.bucket.name, incarnation: this.bucket.createdMs, key: this.key, id: this.carriedId, expiresMs: Date.now() + INTENT_LIFETIME_MS };
  }

  /** Makes sure the intent outlives the commit about to be sent. */
  async keepFresh(): Promise<void> {
    if (this.carriedId !== undefined || Date.now() + INTENT_RENEW_MARGIN_MS < this.expiresMs) return;
    await this.write(this.ctx.services.clock.next(), withTimeout(undefined, this.ctx.services.metadataTimeoutMs));
  }

  /** The write committed `record` (a version, or a delete marker). */
  settle(record: ObjectRecord): void {
    const entry = indexEntryOf(record);
    // A null version replaced the key's older null versions. Where the commit carried the intent, it
    // dropped their entries itself; elsewhere the replicas drop them as they settle this one.
    const replaces = isNullEntry(entry) && this.carriedId === undefined;
    this.send({ entry, ...(replaces ? { replaces: true } : {}) });
  }

  /** The write deleted version `versionId` (`removed`, when a node said what it removed) by id. */
  settleGone(versionId: string, removed: ObjectRecord | null): void {
    // A null version deleted by id ends the key's older null versions too (its commit had replaced them).
    this.send({ gone: versionId, ...(removed !== null && isNullEntry(removed) ? { replaces: true } : {}) });
  }

  /** The write committed nothing (it failed before its commit was sent). */
  abandon(): void {
    this.send({});
  }

  private async write(id: string, signal: AbortSignal): Promise<void> {
    const { services } = this.ctx;
    const expiresMs = Date.now() + INTENT_LIFETIME_MS;
    const op: IndexOp = { op: 'intent', bucket: this.bucket.name, incarnation: this.bucket.createdMs, key: this.key, id, expiresMs };
    // A write quorum of each shard's replicas: while a split is under way, readers may use either shard.
    const quorum = writeQuorum(services.erasure.dataShards, services.erasure.parityShards);
    const decisions = await Promise.all(this.shardReplicas.map((replicas) => services.bucketIndex.announce(replicas, op, quorum, signal)));
    const unmet = decisions.find((decision) => !decision.met);
    if (unmet !== undefined) throw quorumError('index intent', unmet.failures, this.bucket.name);
    this.ids.push(id);
    this.expiresMs = expiresMs;
  }

  private send(change: Pick<Extract<IndexOp, { op: 'settle' }>, 'entry' | 'replaces' | 'gone'>): void {
    const scope = { bucket: this.bucket.name, incarnation: this.bucket.createdMs, key: this.key };
    this.ids.forEach((id, i) => {
      // The change goes with the first intent; later ones (renewals) are only ended.
      this.ctx.services.bucketIndex.settle(this.replicas, { op: 'settle', ...scope, intent: id, ...(i === 0 ? change : {}) });
    });
  }
}

/** The nodes of several lists, each once. */
export function everyNode(lists: readonly (readonly NodeClient[])[]): NodeClient[] {
  const nodes: NodeClient[] = [];
  for (const node of lists.flat()) if (!nodes.some((known) => known.nodeId === node.nodeId)) nodes.push(node);
  return nodes;
}

/** The replicas of every shard a change of `key` goes to (see indexShardsForWrite), each once. */
export function writeReplicas(services: Pick<LookupDeps, 'cluster'>, bucket: IndexedBucket, key: string): NodeClient[] {
  return everyNode(indexShardsForWrite(bucket.index, key).map((shard) => indexReplicas(services, bucket, shard).nodes));
}

/** Whether two node lists name the same nodes, in any order. */
function sameNodes(a: readonly NodeClient[], b: readonly NodeClient[]): boolean {
  return a.length === b.length && a.every((node) => b.some((other) => other.nodeId === node.nodeId));
}
