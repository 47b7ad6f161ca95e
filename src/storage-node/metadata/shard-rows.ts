import type { ShardRef } from '../../rpc/index.js';
import { MetadataBatch } from '../group-commit.js';
import { ROW, keyParts, kindRange, prefixRange, rowKey } from '../metadata-keys.js';
import type { MetadataDb } from './metadata-db.js';
import { dropShardData, putVersion } from './row-batches.js';
import { json, parse, refOf, shardParts } from './row-keys.js';
import type { PreparedRow, PreparedShard, StoredObject } from './stored-object.js';

/** Rows of shard data not yet or no longer tied to a version: prepared shards (`p`), inline images (`d`) and the shard file registry (`f`). */
export class ShardRows {
  private readonly meta: MetadataDb;

  constructor(meta: MetadataDb) {
    this.meta = meta;
  }

  /** A prepared shard, if present. */
  async getPrepared(ref: ShardRef): Promise<PreparedShard | undefined> {
    const value = await this.meta.cachedGet(rowKey(ROW.prepared, ...shardParts(ref)));
    return value === undefined ? undefined : parse<PreparedShard>(value);
  }

  /** An inline shard's image, if present. */
  async getInline(ref: ShardRef): Promise<Buffer | undefined> {
    return this.meta.cachedGet(rowKey(ROW.inline, ...shardParts(ref)));
  }

  /** Whether a file is registered (some row points to it). */
  async hasFile(file: string): Promise<boolean> {
    return (await this.meta.db.get(rowKey(ROW.file, file))) !== undefined;
  }

  /**
   * Records a prepared shard in one write: its `p` row with either its file's registry row or its
   * inline image. For a file, the caller has already fsynced it into place. `replacesFile` is the place
   * an earlier prepared row of the same shard named, when this one names another (a segment shard's).
   *
   * The write has no fsync of its own. Nothing is visible until the commit, whose write is synced and
   * carries the shard's registry row or inline image again (carryShardRows): LevelDB syncs only its
   * current log, so a prepare left in a log it switched away from is not made durable by a later sync
   * (a process crash loses neither: unsynced writes are in the OS already). A prepare that a power cut
   * takes back before its commit makes that node's commit fail (no prepared shard), as a node that
   * fails mid-write would; the write quorum decides, and repair restores the shard. This halves the
   * fsyncs of a small write.
   */
  async putPrepared(ref: ShardRef, prepared: PreparedShard, image?: Buffer, replacesFile?: string): Promise<void> {
    const batch = new MetadataBatch().put(rowKey(ROW.prepared, ...shardParts(ref)), json(prepared));
    // A repeated prepare that wrote its shard to a new place: the earlier prepare's place is no one's now.
    if (replacesFile !== undefined && replacesFile !== prepared.file) batch.del(rowKey(ROW.file, replacesFile));
    if (image !== undefined) batch.put(rowKey(ROW.inline, ...shardParts(ref)), image);
    if (prepared.file !== null) batch.put(rowKey(ROW.file, prepared.file), json(ref));
    await this.meta.writeUnsynced(batch);
  }

  /**
   * Drops a prepared row in one synced write, and with it the shard's bytes (registry row or inline
   * image) unless `keepData` (the committed `o` row points at the same shard). The caller removes the file.
   */
  async dropPrepared(ref: ShardRef, prepared: PreparedShard, keepData: boolean): Promise<void> {
    const batch = new MetadataBatch().del(rowKey(ROW.prepared, ...shardParts(ref)));
    if (!keepData) dropShardData(batch, ref, prepared);
    await this.meta.write(batch);
  }

  /** Every prepared row, for start-up recovery and garbage collection. */
  async *preparedShards(): AsyncGenerator<PreparedRow> {
    for await (const [key, value] of this.meta.db.iterator(kindRange(ROW.prepared))) {
      yield { ...parse<PreparedShard>(value), ...refOf(keyParts(key)) };
    }
  }

  /** Registered files under one shard subdirectory, in name order, for start-up recovery. */
  async *filesUnder(directory: string): AsyncGenerator<{ file: string; ref: ShardRef }> {
    for await (const [key, value] of this.meta.db.iterator(prefixRange(rowKey(ROW.file, `${directory}/`)))) {
      yield { file: keyParts(key)[0] ?? '', ref: parse<ShardRef>(value) };
    }
  }

  /** Drops the registry row of a file that no longer exists and that nothing committed points to. */
  async forgetFile(file: string): Promise<void> {
    await this.meta.write(new MetadataBatch().del(rowKey(ROW.file, file)));
  }

  /**
   * Points the rows that name a shard's image at its new place, in one synced batch with the registry
   * rows of both places (segment compaction). `current` is the key's current row when it names the
   * image; `versions` the version rows that do (the current version's own among them).
   */
  async relocateShard(ref: ShardRef, fromFile: string, toFile: string, current: StoredObject | undefined, versions: readonly StoredObject[]): Promise<void> {
    const batch = new MetadataBatch().del(rowKey(ROW.file, fromFile)).put(rowKey(ROW.file, toFile), json(ref));
    if (current !== undefined) batch.put(rowKey(ROW.object, current.record.bucket, current.record.key), json({ ...current, file: toFile }));
    for (const version of versions) putVersion(batch, version, json({ ...version, file: toFile }));
    await this.meta.write(batch);
  }
}
