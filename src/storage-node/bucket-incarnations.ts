import { compareVersionIds } from '../common/index.js';
import type { BucketRecord } from '../rpc/index.js';
import { ShardStoreError } from './shard-store-error.js';

/**
 * Which incarnation of a bucket's name this node takes commits for (docs/bucket-incarnations.md).
 * Object rows are keyed by the bucket's name, so without this a write still in flight when its bucket
 * was deleted, or sent through a gateway that cached the deleted bucket, would commit into whatever
 * bucket has that name next.
 *
 * A version names the incarnation it was written under (`bucketCreatedMs`, the bucket record's
 * `createdMs`). The node compares it with the newest bucket record it holds, kept in memory:
 * - none, or an older incarnation's: taken (the bucket was created on a majority this node was not in);
 * - this incarnation's, live: taken;
 * - this incarnation's, closing: refused for now (BucketClosing, a retryable 503);
 * - this incarnation's deleted, or a newer incarnation's: refused (BucketGone, NoSuchBucket to the client).
 *
 * DeleteBucket writes the closing record to every node before it checks the bucket is empty, and a
 * node acknowledges a closing or deleted record only once every commit it took for that incarnation
 * has been applied: so the check sees every version committed into the bucket, and none lands after it.
 */
export class BucketIncarnations {
  private readonly read: (name: string) => Promise<BucketRecord | undefined>;
  /** The newest record held per name; null: the node holds none. Absent: not read yet. */
  private readonly records = new Map<string, BucketRecord | null>();
  /** Commits taken and not yet applied, per bucket name. */
  private readonly admitted = new Map<string, Set<Promise<unknown>>>();

  /** `read`: the record the node's database holds for a name. */
  constructor(read: (name: string) => Promise<BucketRecord | undefined>) {
    this.read = read;
  }

  /**
   * Runs `commit` of a version written under incarnation `createdMs` of `bucket`, or refuses it. The
   * check and the count of commits in flight happen in one turn, so a closing record stored after the
   * check waits for this commit (see stored).
   */
  async admit<T>(bucket: string, createdMs: number, commit: () => Promise<T>): Promise<T> {
    if (!this.records.has(bucket)) await this.load(bucket);
    // Read from the map after the load, in the same turn as the check and the count below.
    refuseUnlessOpen(this.records.get(bucket) ?? null, createdMs);
    const work = commit();
    let pending = this.admitted.get(bucket);
    if (pending === undefined) {
      pending = new Set();
      this.admitted.set(bucket, pending);
    }
    const set = pending;
    set.add(work);
    const settle = (): void => {
      set.delete(work);
      if (set.size === 0 && this.admitted.get(bucket) === set) this.admitted.delete(bucket);
    };
    work.then(settle, settle);
    return work;
  }

  /** The newest record of `name` the node holds (a tombstone when deleted), if any: read from disk once, then kept. */
  async held(name: string): Promise<BucketRecord | undefined> {
    if (!this.records.has(name)) await this.load(name);
    return this.records.get(name) ?? undefined;
  }

  /**
   * Takes note of a record the node has just stored (`newest`: what it holds now, which is `record`
   * unless it already held a newer one). A closing or deleted record returns once every commit taken
   * before it was noted has been applied: whoever wrote it may then read the bucket's rows as final.
   */
  async stored(newest: BucketRecord): Promise<void> {
    const held = this.records.get(newest.name);
    if (held === undefined || held === null || compareVersionIds(newest.versionId, held.versionId) >= 0) this.records.set(newest.name, newest);
    if (newest.closing !== true && !newest.deleted) return;
    const pending = this.admitted.get(newest.name);
    if (pending !== undefined) await Promise.allSettled([...pending]);
  }

  private async load(name: string): Promise<void> {
    const record = (await this.read(name)) ?? null;
    // A record noted while this read was in flight is at least as new as what the read found.
    if (!this.records.has(name)) this.records.set(name, record);
  }
}

/** Throws unless a version of incarnation `createdMs` may be committed while the node holds `record`. */
function refuseUnlessOpen(record: BucketRecord | null, createdMs: number): void {
  if (record === null || record.createdMs < createdMs) return;
  if (record.createdMs > createdMs || record.deleted) {
    throw new ShardStoreError('BucketGone', `bucket ${record.name} was deleted or created again since this write's bucket record`);
  }
  if (record.closing === true) throw new ShardStoreError('BucketClosing', `bucket ${record.name} is being deleted`);
}
