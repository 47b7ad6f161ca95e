import { randomBytes } from 'node:crypto';
import { formatVersionId, parseVersionId } from '../../common/index.js';
import type { RingNode } from '../../placement/index.js';
import {
  MAX_INDEX_EXPORT_ROWS,
  UPLOADS_BUCKET,
  fanOut,
  indexShardKey,
  indexShardRange,
  isNewerVersion,
  majority,
  withFurthestIndex,
  type BucketIndex,
  type BucketRecord,
  type IndexSplit,
} from '../../rpc/index.js';
import type { ShardStore } from '../shard-store.js';
import { SetLeaders } from './set-leaders.js';
import type { NodeWorkerDeps, StepResult, Worker, WorkerStatus } from './worker.js';

/** Time a peer has to answer one call of a split. */
const PEER_TIMEOUT_MS = 10_000;

/** What the splitter reads of its node's store. */
type SplitterStore = Pick<ShardStore, 'indexRows' | 'listBuckets'>;

/** Construction parameters of an index splitter. */
export interface IndexSplitterOptions extends Omit<NodeWorkerDeps<SplitterStore>, 'figures'> {
  /** A shard holding this many keys is split (DEFAULTS.indexSplitKeys). */
  splitKeys: number;
  /** How long each stage of a split waits before the next: longer than gateways cache a bucket record. */
  stageWaitMs: number;
}

/**
 * Splits bucket index shards that grew past a bound (docs/bucket-index.md, "Growing"). For each indexed
 * bucket, the node leading a shard's replica set (the first member that answers) counts the keys its
 * replica holds in the shard's range, and past the bound records a split at its median key. The split
 * then goes through its stages in the bucket record, each after gateways' cached records have caught
 * up with the one before: copying (writes of the upper half go to both shards; the leader copies the
 * upper half's rows from a majority of the old shard's replicas to every replica of the new one),
 * published (the new shard is in the map and listings read it; writes still go to both), retiring
 * (writes go to the new shard alone), then done, when replicas of the old shard that hold no replica of
 * the new one drop the rows it moved. The stage is in the record, so a leader that stops mid-copy is
 * followed by one that copies again from the start (the copy's changes apply once however often they come).
 */
export class IndexSplitter implements Worker {
  readonly name = 'index-split';
  private readonly options: IndexSplitterOptions;
  private readonly clock: () => number;
  private readonly leaders: SetLeaders;
  private readonly figures = { passes: 0, splitsStarted: 0, splitsDone: 0, rowsCopied: 0, largestShardKeys: 0 };

  constructor(options: IndexSplitterOptions) {
    this.options = options;
    this.clock = options.clock ?? Date.now;
    this.leaders = new SetLeaders({ nodeId: options.nodeId, peers: options.peers, clock: this.clock });
  }

  status(): WorkerStatus {
    return { ...this.figures };
  }

  async step(signal: AbortSignal): Promise<StepResult> {
    let items = 0;
    let largest = 0;
    for (const bucket of await this.options.store.listBuckets()) {
      signal.throwIfAborted();
      if (bucket.deleted || bucket.index === undefined || bucket.name === UPLOADS_BUCKET) continue;
      try {
        largest = Math.max(largest, await this.tend(bucket, bucket.index, signal));
      } catch (err) {
        if (signal.aborted) throw err;
        this.options.logger.warn({ err, bucket: bucket.name }, 'index split step failed');
      }
      items += 1;
    }
    this.figures.passes += 1;
    this.figures.largestShardKeys = largest;
    return { items, bytes: 0, cursor: null, idle: true };
  }

  /** Moves the bucket's split on, or starts one where a shard this node leads grew past the bound; the most keys counted in a shard. */
  private async tend(bucket: BucketRecord, index: BucketIndex, signal: AbortSignal): Promise<number> {
    if (index.split !== undefined) {
      if (await this.leads(bucket, index.split.parent, signal)) await this.advance(bucket, index, index.split, signal);
      return 0;
    }
    let largest = 0;
    for (const shard of index.shards) {
      if (!(await this.leads(bucket, shard.id, signal))) continue;
      const range = indexShardRange(index, shard.id);
      const { indexRows } = this.options.store;
      const count = await indexRows.countKeys(bucket.name, bucket.createdMs, range, 2 * this.options.splitKeys);
      largest = Math.max(largest, count);
      if (count < this.options.splitKeys) continue;
      const median = await indexRows.keyAt(bucket.name, bucket.createdMs, range, Math.floor(count / 2));
      if (median === undefined || median <= shard.from) continue;
      const id = Math.max(...index.shards.map((known) => known.id)) + 1;
      const split: IndexSplit = { parent: shard.id, id, from: median, stage: 'copying', sinceMs: this.clock() };
      if (await this.record(bucket, index, { ...index, split }, signal)) {
        this.figures.splitsStarted += 1;
        this.options.logger.info({ bucket: bucket.name, shard: shard.id, keys: count, at: median, newShard: id }, 'index shard split started');
      }
      // One split of a bucket at a time.
      break;
    }
    return largest;
  }

  /** The next stage of `split`, once gateways have had time to see the current one. */
  private async advance(bucket: BucketRecord, index: BucketIndex, split: IndexSplit, signal: AbortSignal): Promise<void> {
    if (this.clock() < split.sinceMs + this.options.stageWaitMs) return;
    if (split.stage === 'copying') {
      await this.copy(bucket, index, split, signal);
      const at = index.shards.findIndex((shard) => shard.id === split.parent);
      const shards = [...index.shards.slice(0, at + 1), { id: split.id, from: split.from }, ...index.shards.slice(at + 1)];
      await this.record(bucket, index, { shards, split: { ...split, stage: 'published', sinceMs: this.clock() } }, signal);
      return;
    }
    if (split.stage === 'published') {
      await this.record(bucket, index, { shards: index.shards, split: { ...split, stage: 'retiring', sinceMs: this.clock() } }, signal);
      return;
    }
    await this.dropMoved(bucket, index, split, signal);
    if (await this.record(bucket, index, { shards: index.shards }, signal)) {
      this.figures.splitsDone += 1;
      this.options.logger.info({ bucket: bucket.name, shard: split.parent, newShard: split.id, at: split.from }, 'index shard split done');
    }
  }

  /** Copies the upper half's rows from a majority of the old shard's replicas to every replica of the new shard. */
  private async copy(bucket: BucketRecord, index: BucketIndex, split: IndexSplit, signal: AbortSignal): Promise<void> {
    const sources = this.replicas(bucket, split.parent);
    const targets = this.replicas(bucket, split.id);
    // The parent's end before the split: the next shard's first key.
    const before = indexShardRange(index, split.parent).before;
    let read = 0;
    for (const source of sources) {
      try {
        let after: string | undefined;
        do {
          signal.throwIfAborted();
          const timeout = AbortSignal.any([signal, AbortSignal.timeout(PEER_TIMEOUT_MS)]);
          const page = await this.options.peers
            .get(source)
            .exportIndex({ bucket: bucket.name, incarnation: bucket.createdMs, from: split.from, before, after, limit: MAX_INDEX_EXPORT_ROWS }, { signal: timeout });
          if (page.ops.length > 0) {
            const outcomes = await fanOut(targets, (target) => this.options.peers.get(target).applyIndex({ ops: page.ops }, { signal: timeout }));
            const failed = outcomes.find((outcome) => !outcome.ok);
            // Every replica of the new shard takes every row: a write quorum of it is then sure to hold each.
            if (failed !== undefined) throw new Error('a replica of the new index shard did not take the copy', { cause: failed.ok ? undefined : failed.error });
            this.figures.rowsCopied += page.ops.length;
          }
          after = page.next ?? undefined;
        } while (after !== undefined);
        read += 1;
      } catch (err) {
        if (signal.aborted || targets.some((target) => target.id === source.id)) throw err;
        // A source that does not answer is replaced by the next; a failed target fails the copy.
        if (err instanceof Error && err.message.startsWith('a replica of the new index shard')) throw err;
      }
    }
    // Every committed key has its intent or entry on a write quorum of the old shard, which meets any majority.
    if (read < majority(sources.length)) throw new Error(`index split copy read ${read} of ${sources.length} replicas`);
  }

  /** Drops the moved rows on the old shard's replicas that hold no replica of the new shard. */
  private async dropMoved(bucket: BucketRecord, index: BucketIndex, split: IndexSplit, signal: AbortSignal): Promise<void> {
    const keep = new Set(this.replicas(bucket, split.id).map((node) => node.id));
    const before = indexShardRange(index, split.id).before;
    const timeout = AbortSignal.any([signal, AbortSignal.timeout(PEER_TIMEOUT_MS)]);
    const drops = this.replicas(bucket, split.parent).filter((node) => !keep.has(node.id));
    const outcomes = await fanOut(drops, (node) =>
      this.options.peers.get(node).dropIndex({ bucket: bucket.name, incarnation: bucket.createdMs, from: split.from, ...(before === undefined ? {} : { before }) }, { signal: timeout }),
    );
    // A replica that missed the drop keeps rows its shard's readers never ask for.
    for (const outcome of outcomes) if (!outcome.ok) this.options.logger.warn({ bucket: bucket.name, nodeId: outcome.nodeId }, 'moved index rows not dropped');
  }

  /** The replicas of a shard under the current ring. */
  private replicas(bucket: BucketRecord, shard: number): readonly RingNode[] {
    const locator = this.options.rings.locator;
    if (locator === undefined) throw new Error('no ring');
    return locator.locate(bucket.name, indexShardKey(bucket.createdMs, shard)).nodes;
  }

  /** Whether this node leads the shard's replica set: a member, and no member before it answers. No split moves while a ring change does. */
  private async leads(bucket: BucketRecord, shard: number, signal: AbortSignal): Promise<boolean> {
    if (this.options.rings.locator === undefined || this.options.rings.previousLocator !== undefined) return false;
    const set = this.replicas(bucket, shard);
    if (!set.some((node) => node.id === this.options.nodeId)) return false;
    return (await this.leaders.leaderOf(set, signal)) === null;
  }

  /**
   * Writes the bucket's record with index `next` to every node, if the newest record a majority holds
   * still has index `expected` (a bucket deleted, created again or split meanwhile is left alone).
   * True when a majority took it.
   */
  private async record(bucket: BucketRecord, expected: BucketIndex, next: BucketIndex, signal: AbortSignal): Promise<boolean> {
    const locator = this.options.rings.locator;
    if (locator === undefined) return false;
    const nodes = locator.ring.nodes;
    const needed = majority(nodes.length);
    const timeout = AbortSignal.any([signal, AbortSignal.timeout(PEER_TIMEOUT_MS)]);
    const lists = await fanOut(nodes, (node) => this.options.peers.get(node).listBuckets({ signal: timeout }));
    let current: BucketRecord | undefined;
    let answered = 0;
    for (const outcome of lists) {
      if (!outcome.ok) continue;
      answered += 1;
      for (const record of outcome.value) {
        if (record.name !== bucket.name) continue;
        current = current === undefined || isNewerVersion(record.versionId, current.versionId) ? withFurthestIndex(record, current ?? record) : withFurthestIndex(current, record);
      }
    }
    if (answered < needed || current === undefined || current.deleted || current.createdMs !== bucket.createdMs) return false;
    if (JSON.stringify(current.index) !== JSON.stringify(expected)) return false;
    const { physicalMs, logical } = parseVersionId(current.versionId);
    const now = this.clock();
    const versionId = now > physicalMs ? formatVersionId(now, 0, randomBytes(4).toString('hex')) : formatVersionId(physicalMs, logical + 1, randomBytes(4).toString('hex'));
    const written = await fanOut(nodes, (node) => this.options.peers.get(node).putBucket({ ...current, versionId, index: next }, { signal: timeout }));
    return written.filter((outcome) => outcome.ok).length >= needed;
  }
}
