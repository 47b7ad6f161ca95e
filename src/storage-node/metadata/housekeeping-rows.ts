import { partitionHashRange } from '../../placement/index.js';
import type { ShardRef } from '../../rpc/index.js';
import type { ExtraRow } from './object-rows.js';
import { MetadataBatch } from '../group-commit.js';
import { ROW, afterPrefix, keyParts, kindRange, newestFirst, rowKey } from '../metadata-keys.js';
import type { MetadataDb } from './metadata-db.js';
import { putGone } from './row-batches.js';
import { goneByKey, goneKey, hex16, json, parse, shardParts } from './row-keys.js';
import type { HashIndexEntry, PartitionVersionRow, QuarantineEntry, StoredObject, VersionCursor, VersionGone, VersionMark } from './stored-object.js';

/** Version rows read at a time after moving to a key (most keys have one or two versions). */
const VERSION_ROWS_PER_READ = 4;
/** Version marks read from LevelDB at a time by versionMarks(). */
const MARKS_PER_READ = 1_000;

function startsWith(key: Buffer, prefix: Buffer): boolean {
  return key.length >= prefix.length && key.compare(prefix, 0, prefix.length, 0, prefix.length) === 0;
}

/** Rows background work keeps: quarantined shards (`q`), version tombstones (`x`, `y`), worker cursors (`n`) and walks of the placement index (`h`). */
export class HousekeepingRows {
  private readonly meta: MetadataDb;

  constructor(meta: MetadataDb) {
    this.meta = meta;
  }

  /** Records a shard for repair; returns false when it was already quarantined. */
  async quarantine(entry: QuarantineEntry): Promise<boolean> {
    const key = rowKey(ROW.quarantine, ...shardParts(entry));
    if ((await this.meta.db.get(key)) !== undefined) return false;
    await this.meta.write(new MetadataBatch().put(key, json(entry)));
    return true;
  }

  /** Every quarantined shard, for the repair worker and tests. */
  async *quarantined(): AsyncGenerator<QuarantineEntry> {
    for await (const value of this.meta.db.values(kindRange(ROW.quarantine))) yield parse<QuarantineEntry>(value);
  }

  /** Whether a shard is waiting for repair. */
  async isQuarantined(ref: ShardRef): Promise<boolean> {
    return (await this.meta.db.get(rowKey(ROW.quarantine, ...shardParts(ref)))) !== undefined;
  }

  /** Removes a shard's quarantine row (it was repaired, or the version it named is gone); returns whether it existed. */
  async clearQuarantine(ref: ShardRef): Promise<boolean> {
    const key = rowKey(ROW.quarantine, ...shardParts(ref));
    if ((await this.meta.db.get(key)) === undefined) return false;
    await this.meta.write(new MetadataBatch().del(key));
    return true;
  }

  /** Records that a version this node does not hold was deleted by id (one synced write). */
  async putVersionGone(gone: VersionGone, extraRows: readonly ExtraRow[] = []): Promise<void> {
    const batch = new MetadataBatch();
    for (const row of extraRows) {
      if (row.value === null) batch.del(row.key);
      else batch.put(row.key, row.value);
    }
    putGone(batch, gone);
    await this.meta.write(batch);
  }

  /** The tombstone of a version deleted by id, if this node holds one. */
  async getVersionGone(bucket: string, key: string, versionId: string): Promise<VersionGone | undefined> {
    const value = await this.meta.db.get(goneKey({ bucket, key, versionId }));
    return value === undefined ? undefined : parse<VersionGone>(value);
  }

  /** Forgets a version tombstone (past its grace). */
  async dropVersionGone(gone: VersionGone): Promise<void> {
    await this.meta.write(new MetadataBatch().del(goneKey(gone)).del(goneByKey(gone)));
  }

  /** Up to `limit` version tombstones after `after` (exclusive; null: from the start), in placement-hash order. */
  async versionGonePage(after: VersionCursor | null, limit: number, fromHash = 0n, toHash: bigint | null = null): Promise<{ rows: (VersionGone & { hashHex: string })[]; truncated: boolean }> {
    const range = kindRange(ROW.versionGone);
    const lt = toHash === null || toHash > 0xffff_ffff_ffff_ffffn ? range.lt : rowKey(ROW.versionGone, hex16(toHash));
    const options =
      after === null
        ? { gte: rowKey(ROW.versionGone, hex16(fromHash)), lt, limit: limit + 1 }
        : { gt: rowKey(ROW.versionGone, after.hashHex, after.bucket, after.key, after.versionId), lt, limit: limit + 1 };
    const rows: (VersionGone & { hashHex: string })[] = [];
    for await (const [key, value] of this.meta.db.iterator(options)) rows.push({ ...parse<VersionGone>(value), hashHex: keyParts(key)[0] ?? '' });
    const truncated = rows.length > limit;
    if (truncated) rows.pop();
    return { rows, truncated };
  }

  /**
   * Keys whose placement hash is in [fromHash, toHash), in hash order; toHash null means to the end.
   * One ring partition of B bits is the range [P << (64-B), (P+1) << (64-B)).
   */
  async *hashRange(fromHash: bigint, toHash: bigint | null): AsyncGenerator<HashIndexEntry> {
    const gte = rowKey(ROW.hashIndex, hex16(fromHash));
    const lt = toHash === null || toHash > 0xffff_ffff_ffff_ffffn ? afterPrefix(Buffer.from(ROW.hashIndex)) : rowKey(ROW.hashIndex, hex16(toHash));
    for await (const key of this.meta.db.keys({ gte, lt })) {
      const [hashHex = '', bucket = '', objectKey = ''] = keyParts(key);
      yield { hashHex, bucket, key: objectKey };
    }
  }

  /** Keys of ring partition `partition` for a ring of `partitionBits` bits, in hash order. */
  partitionKeys(partition: number, partitionBits: number): AsyncGenerator<HashIndexEntry> {
    const { from, to } = partitionHashRange(partition, partitionBits);
    return this.hashRange(from, to);
  }

  /** Up to `limit` placement-index entries after `after` (exclusive; null starts at the beginning), in hash order. */
  async hashIndexPage(after: HashIndexEntry | null, limit: number, toHash: bigint | null = null): Promise<HashIndexEntry[]> {
    const range = kindRange(ROW.hashIndex);
    const lt = toHash === null || toHash > 0xffff_ffff_ffff_ffffn ? range.lt : rowKey(ROW.hashIndex, hex16(toHash));
    const options = after === null ? { gte: range.gte, lt, limit } : { gt: rowKey(ROW.hashIndex, after.hashHex, after.bucket, after.key), lt, limit };
    const entries: HashIndexEntry[] = [];
    for await (const key of this.meta.db.keys(options)) {
      const [hashHex = '', bucket = '', objectKey = ''] = keyParts(key);
      entries.push({ hashHex, bucket, key: objectKey });
    }
    return entries;
  }

  /** Number of keys this node holds (placement-index rows), for progress estimates. */
  async countKeys(): Promise<number> {
    let count = 0;
    // A thousand keys a step: one await per key cost twice as long over a few hundred thousand keys.
    const keys = this.meta.db.keys(kindRange(ROW.hashIndex));
    try {
      for (let batch = await keys.nextv(1000); batch.length > 0; batch = await keys.nextv(1000)) count += batch.length;
    } finally {
      await keys.close();
    }
    return count;
  }

  /**
   * Up to `limit` version rows of the keys whose placement hash is in [fromHash, toHash), in hash order
   * and each key's versions newest first, after `after` (exclusive; null: from fromHash). Reads at
   * most limit + 1 version rows, however many versions a key has.
   */
  async versionPage(after: VersionCursor | null, limit: number, fromHash: bigint, toHash: bigint | null): Promise<{ rows: PartitionVersionRow[]; truncated: boolean }> {
    const rows: PartitionVersionRow[] = [];
    // One iterator over the version rows for the whole page, moved to each key with seek(): an iterator
    // made and closed per key cost about as much as everything else an audit does.
    const versions = this.meta.db.iterator(kindRange(ROW.version));
    try {
      const take = async (entry: HashIndexEntry, afterVersionId: string | null): Promise<boolean> => {
        const prefix = Buffer.concat([rowKey(ROW.version, entry.bucket, entry.key), Buffer.of(0)]);
        const skip = afterVersionId === null ? undefined : rowKey(ROW.version, entry.bucket, entry.key, newestFirst(afterVersionId));
        versions.seek(skip ?? prefix);
        for (;;) {
          // Most keys have one version: read a few rows at a time rather than a whole cache's worth.
          const batch = await versions.nextv(Math.min(VERSION_ROWS_PER_READ, limit + 1 - rows.length));
          if (batch.length === 0) return false;
          for (const [key, value] of batch) {
            if (!startsWith(key, prefix)) return false;
            if (skip !== undefined && key.equals(skip)) continue;
            rows.push({ ...entry, stored: parse<StoredObject>(value) });
            if (rows.length > limit) return true;
          }
        }
      };
      if (after !== null && (await take(after, after.versionId))) return { rows: rows.slice(0, limit), truncated: true };
      const indexRange = kindRange(ROW.hashIndex);
      const lt = toHash === null || toHash > 0xffff_ffff_ffff_ffffn ? indexRange.lt : rowKey(ROW.hashIndex, hex16(toHash));
      const options = after === null ? { gte: rowKey(ROW.hashIndex, hex16(fromHash)), lt } : { gt: rowKey(ROW.hashIndex, after.hashHex, after.bucket, after.key), lt };
      for await (const key of this.meta.db.keys(options)) {
        const [hashHex = '', bucket = '', objectKey = ''] = keyParts(key);
        if (await take({ hashHex, bucket, key: objectKey }, null)) return { rows: rows.slice(0, limit), truncated: true };
      }
      return { rows, truncated: false };
    } finally {
      await versions.close();
    }
  }

  /**
   * The version marks of the keys whose placement hash is in [fromHash, toHash) (null: to the end),
   * a page at a time: every version this node holds of those keys, in hash order and each key's
   * versions newest first, the order versionPage() gives. One range, read without a seek a key.
   */
  async *versionMarks(fromHash: bigint, toHash: bigint | null): AsyncGenerator<VersionMark[]> {
    const range = kindRange(ROW.versionMark);
    const lt = toHash === null || toHash > 0xffff_ffff_ffff_ffffn ? range.lt : rowKey(ROW.versionMark, hex16(toHash));
    const marks = this.meta.db.iterator({ gte: rowKey(ROW.versionMark, hex16(fromHash)), lt });
    try {
      for (let rows = await marks.nextv(MARKS_PER_READ); rows.length > 0; rows = await marks.nextv(MARKS_PER_READ)) {
        yield rows.map(([key, value]) => {
          const [, bucket = '', objectKey = ''] = keyParts(key);
          const text = value.toString('utf8');
          return { bucket, key: objectKey, versionId: text.slice(1), deleted: text[0] === '1' };
        });
      }
    } finally {
      await marks.close();
    }
  }

  /** A background worker's persisted cursor; null when it has none. */
  async loadCursor(name: string): Promise<string | null> {
    const value = await this.meta.db.get(rowKey(ROW.node, `cursor/${name}`));
    return value === undefined ? null : value.toString('utf8');
  }

  /** Persists (or, with null, clears) a background worker's cursor. */
  async saveCursor(name: string, cursor: string | null): Promise<void> {
    const key = rowKey(ROW.node, `cursor/${name}`);
    await this.meta.write(cursor === null ? new MetadataBatch().del(key) : new MetadataBatch().put(key, Buffer.from(cursor, 'utf8')));
  }
}
