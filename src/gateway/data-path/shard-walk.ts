import { indexShardFor, type IndexShardBounds } from '../../rpc/index.js';
import { compareUtf8 } from '../s3/index.js';
import type { IndexedBucket } from './bucket-index.js';
import type { ReplicaMerge } from './replica-merge.js';
import type { CursorRow, RowPosition } from './row-cursor.js';

/** One index shard a listing reads: its id and key range. */
export type ShardSpan = { id: number } & IndexShardBounds;

/**
 * A listing's merged rows across a bucket's index shards in key order (docs/bucket-index.md): the
 * shard holding the listing's start is read first, each replica bounded to the shard's range, and
 * where one shard's rows end the next shard is read from where the merge stood, while its range can
 * hold keys under the listing's prefix. The shard map is the one the listing's bucket record names.
 */
export class ShardWalk<R extends CursorRow> {
  private readonly bucket: IndexedBucket;
  private readonly prefix: string;
  private readonly open: (shard: ShardSpan, start: RowPosition) => ReplicaMerge<R>;
  private at: number;
  private merge: ReplicaMerge<R>;

  constructor(bucket: IndexedBucket, prefix: string, start: RowPosition, open: (shard: ShardSpan, start: RowPosition) => ReplicaMerge<R>) {
    this.bucket = bucket;
    this.prefix = prefix;
    this.open = open;
    const first = compareUtf8(start.after, prefix) > 0 ? start.after : prefix;
    const id = indexShardFor(bucket.index, first);
    this.at = Math.max(0, bucket.index.shards.findIndex((shard) => shard.id === id));
    this.merge = open(this.span(), start);
  }

  /** The next merged row, from this shard or the ones after it; undefined at the end of the listing. */
  async next(): Promise<Awaited<ReturnType<ReplicaMerge<R>['next']>>> {
    for (;;) {
      const row = await this.merge.next();
      if (row !== undefined) return row;
      const following = this.bucket.index.shards[this.at + 1];
      // A shard starting past every key under the prefix holds none of them.
      if (following === undefined || !(following.from.startsWith(this.prefix) || compareUtf8(following.from, this.prefix) < 0)) return undefined;
      this.at += 1;
      this.merge = this.open(this.span(), this.merge.position);
    }
  }

  /** Skips the rest of `key`'s rows. */
  skipKey(key: string): void {
    this.merge.skipKey(key);
  }

  /** Skips every key under `prefix`. */
  skipPrefix(prefix: string): void {
    this.merge.skipPrefix(prefix);
  }

  private span(): ShardSpan {
    const shard = this.bucket.index.shards[this.at] as { id: number; from: string };
    const following = this.bucket.index.shards[this.at + 1];
    return { id: shard.id, ...(shard.from === '' ? {} : { from: shard.from }), ...(following === undefined ? {} : { before: following.from }) };
  }
}
