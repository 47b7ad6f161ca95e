import type { BucketUsage } from '../../rpc/index.js';
import { MetadataBatch } from '../group-commit.js';
import { ROW, kindRange, keyParts, rowKey } from '../metadata-keys.js';
import type { MetadataDb } from './metadata-db.js';
import { json, parse } from './row-keys.js';
import type { StoredObject } from './stored-object.js';

/** The node-local row that says the counters were counted from the version rows once (a database older than them has none). */
const COUNTED_ROW = 'usage-counted';
/** Rows the one-time count of an older database writes per batch. */
const COUNT_BATCH_ROWS = 1_000;

/** What one stored version adds to its bucket's count: tombstones and delete markers hold no data and count nothing. */
export function usageOf(stored: StoredObject | undefined): { objects: number; bytes: number } {
  if (stored === undefined || stored.record.deleted) return { objects: 0, bytes: 0 };
  return { objects: 1, bytes: stored.record.sizeBytes };
}

/** Adds what `stored` counts (times `sign`) to the batch's usage changes. */
export function countVersion(batch: MetadataBatch, stored: StoredObject | undefined, sign: 1 | -1): MetadataBatch {
  if (stored === undefined) return batch;
  const { objects, bytes } = usageOf(stored);
  return batch.count(stored.record.bucket, sign * objects, sign * bytes);
}

/**
 * Per-bucket usage counters (`s 00 bucket` -> {objects, bytes}): the versions this node keeps of the
 * bucket's keys (`v` rows, current and noncurrent, delete markers not counted) and their logical
 * sizes. The counts live in memory; every batch that adds or removes a version row carries its change
 * (MetadataBatch.count), and the batch's submission adds the bucket's new counter row to it, so a row
 * and its count are written, or lost, together. Batches apply in submission order (group-commit.ts), so
 * the last counter row written is the newest count. A failed write fences the database until restart,
 * and the counts are read back from disk then.
 */
export class UsageRows {
  private readonly meta: MetadataDb;
  private readonly counts = new Map<string, BucketUsage>();

  constructor(meta: MetadataDb) {
    this.meta = meta;
    meta.onUsage((batch) => this.stage(batch));
  }

  /**
   * Reads the counters at start-up. A database written before they existed is counted from its
   * version rows once (one walk, at start-up only), and marked counted in the same last batch.
   */
  async load(): Promise<void> {
    this.counts.clear();
    if ((await this.meta.db.get(rowKey(ROW.node, COUNTED_ROW))) === undefined) {
      await this.countAll();
      return;
    }
    for await (const [key, value] of this.meta.db.iterator(kindRange(ROW.usage))) {
      const name = keyParts(key)[0];
      if (name !== undefined) this.counts.set(name, parse<BucketUsage>(value));
    }
  }

  /** One bucket's usage on this node (zero when it holds nothing of it). */
  get(bucket: string): BucketUsage {
    return this.counts.get(bucket) ?? { objects: 0, bytes: 0 };
  }

  /** Every bucket this node counts anything of. */
  all(): Map<string, BucketUsage> {
    return new Map(this.counts);
  }

  private stage(batch: MetadataBatch): void {
    for (const [bucket, delta] of batch.usage ?? []) {
      const now = this.get(bucket);
      // Never below zero: a count can only be off by a row it never saw, not owe rows.
      const next = { objects: Math.max(0, now.objects + delta.objects), bytes: Math.max(0, now.bytes + delta.bytes) };
      const key = rowKey(ROW.usage, bucket);
      if (next.objects === 0 && next.bytes === 0) {
        this.counts.delete(bucket);
        batch.del(key);
      } else {
        this.counts.set(bucket, next);
        batch.put(key, json(next));
      }
    }
    batch.usage = undefined;
  }

  private async countAll(): Promise<void> {
    const counted = new Map<string, BucketUsage>();
    for await (const value of this.meta.db.values(kindRange(ROW.version))) {
      const stored = parse<StoredObject>(value);
      const { objects, bytes } = usageOf(stored);
      if (objects === 0 && bytes === 0) continue;
      const now = counted.get(stored.record.bucket) ?? { objects: 0, bytes: 0 };
      counted.set(stored.record.bucket, { objects: now.objects + objects, bytes: now.bytes + bytes });
    }
    let batch = new MetadataBatch();
    for (const [bucket, usage] of counted) {
      batch.put(rowKey(ROW.usage, bucket), json(usage));
      if (batch.length >= COUNT_BATCH_ROWS) {
        await this.meta.write(batch);
        batch = new MetadataBatch();
      }
    }
    batch.put(rowKey(ROW.node, COUNTED_ROW), Buffer.from('1'));
    await this.meta.write(batch);
    for (const [bucket, usage] of counted) this.counts.set(bucket, usage);
  }
}
