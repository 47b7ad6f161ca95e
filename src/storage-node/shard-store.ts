import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { BucketRecord, ChangeNote, UserRecord, CommitRequest, ErasureParams, ListQuery, ObjectRecord, ReplicationOutcome, ReplicationStatusRequest, ResealRequest, ShardRef, TagUpdateRequest, VersionListQuery } from '../rpc/index.js';
import type { ListedRows, MetadataStore, StoredObject, VersionGone, VersionListRows } from './metadata-store.js';
import type { CursorRows, FileRows, KeyRows, PreparedRows, QuarantineRows, VersionRows } from './metadata/row-families.js';
import type { ChunkMemory } from './shard-file.js';
import type { ChangeRows } from './metadata/change-rows.js';
import type { IndexRows } from './metadata/index-rows.js';
import { emptyDirectory, recoverStore, type RecoveryReport } from './shard-recovery.js';
import { isNoSpace } from './shard-store-error.js';
import type { PrepareOptions } from './shard-preparer.js';
import { SegmentCompaction, type CompactionResult, type SegmentUsage } from './shard-store/segment-compaction.js';
import type { ShardStoreOptions } from './shard-store/shard-store-options.js';
import { ShardDeletes } from './shard-store/shard-deletes.js';
import { ShardReads } from './shard-store/shard-reads.js';
import { ShardWrites } from './shard-store/shard-writes.js';
import { StoreCore, lockKey } from './shard-store/store-core.js';

export { ShardStoreError, type ShardStoreErrorCode } from './shard-store-error.js';
export { shardFileName } from './shard-paths.js';
export type { CompactionResult, SegmentUsage } from './shard-store/segment-compaction.js';
export {
  DEFAULT_INLINE_MAX_SHARD_BYTES,
  DEFAULT_PREPARED_GRACE_MS,
  DEFAULT_SEGMENT_MAX_SHARD_BYTES,
  MAX_SEGMENT_SHARD_BYTES,
  type ShardStoreOptions,
} from './shard-store/shard-store-options.js';


/** Counters the health report shows. */
export interface ShardStoreStats {
  checksumFailures: number;
  quarantinedShards: number;
  noSpaceRefusals: number;
  ioErrors: number;
  capacityBytes: number | null;
  usedBytes: number | null;
  lastRecovery: RecoveryReport | null;
}

/**
 * A node's durable state: shard files under `<data>/shards`, metadata in LevelDB under `<data>/meta`.
 *
 * Write protocol for a file: stream to `<data>/tmp/<random>`, fsync, rename into `shards/`, fsync the
 * directory, then record the prepared shard in LevelDB (synced). A shard of at most
 * `inlineMaxShardBytes` skips the file: its image and prepared row are one synced LevelDB write.
 * Commit writes the object row in one synced batch; only then is the version visible, and only then
 * is the replaced version's shard dropped. Start-up recovery (shard-recovery.ts) removes what a crash
 * left half done. Nothing half-written can be listed or read.
 *
 * The jobs live under shard-store/: writes and commits (ShardWrites), reads (ShardReads), deletes
 * (ShardDeletes) and segment compaction, over one StoreCore of shared state. This class opens and
 * closes the store, reports on it, and hands each call to its job.
 */
export class ShardStore {
  private readonly core: StoreCore;
  private readonly writes: ShardWrites;
  private readonly reads: ShardReads;
  private readonly deletes: ShardDeletes;
  private readonly compaction: SegmentCompaction;
  private recovery: RecoveryReport | null = null;

  constructor(options: ShardStoreOptions) {
    this.core = new StoreCore(options);
    this.writes = new ShardWrites(this.core);
    this.reads = new ShardReads(this.core);
    this.deletes = new ShardDeletes(this.core);
    this.compaction = new SegmentCompaction(this.core);
  }

  /** The node's metadata, for tests and tools that inspect rows; node code asks the store or uses a row family below. */
  get metadata(): MetadataStore {
    return this.core.metadata;
  }

  /** The node's keys and their versions in placement-hash order, for walks over them. */
  get keyRows(): KeyRows {
    return this.core.metadata;
  }

  /** Version rows and version tombstones in placement-hash order; tombstones past their grace are dropped through it. */
  get versionRows(): VersionRows {
    return this.core.metadata;
  }

  /** The replicas of bucket index shards this node holds (docs/bucket-index.md). */
  get indexRows(): IndexRows {
    return this.core.metadata.indexRows;
  }

  /** The node's change log (docs/events.md). */
  get changes(): ChangeRows {
    return this.core.metadata.changes;
  }

  /**
   * Another member's offer of a change (ChangeRows.offered), under the key's lock as a commit logs one:
   * two members offering the same change at once log it once, and after the key's commits in flight.
   */
  offerChange(bucket: string, key: string, note: ChangeNote): Promise<'delivered' | 'pending'> {
    return this.core.keyLocks.run(lockKey(bucket, key), () => this.core.metadata.changes.offered(bucket, key, note));
  }

  /** Shards found bad, waiting for repair. */
  get quarantineRows(): QuarantineRows {
    return this.core.metadata;
  }

  /** Shards stored but not yet committed, for the resolver that settles them. */
  get preparedRows(): PreparedRows {
    return this.core.metadata;
  }

  /** The files rows point to, for the sweep that removes orphans. */
  get fileRows(): FileRows {
    return this.core.metadata;
  }

  /** Where background workers keep their cursors. */
  get cursorRows(): CursorRows {
    return this.core.metadata;
  }

  /** LevelDB's state, for the health report: 'open' or 'closed'. */
  get metadataStatus(): 'open' | 'closed' {
    return this.core.metadata.status;
  }

  /** Metadata writes that failed since start; after one the node refuses writes until it restarts. */
  get metadataWriteFailures(): number {
    return this.core.metadata.writeFailures;
  }

  /** Number of keys this node holds, for progress estimates and metrics. */
  countKeys(): Promise<number> {
    return this.core.metadata.countKeys();
  }

  /** The tombstone of a version deleted by id, if this node holds one. */
  versionGone(bucket: string, key: string, versionId: string): Promise<VersionGone | undefined> {
    return this.core.metadata.getVersionGone(bucket, key, versionId);
  }

  /** This node's usage counts of `bucket`, or (without one) of every bucket it holds anything of (usage-rows.ts). */
  bucketUsage(bucket: string | undefined): { name: string; objects: number; bytes: number }[] {
    const { usage } = this.core.metadata;
    if (bucket !== undefined) return [{ name: bucket, ...usage.get(bucket) }];
    return [...usage.all()].map(([name, counts]) => ({ name, ...counts }));
  }

  /** Every bucket record this node holds, tombstones included. */
  listBuckets(): Promise<BucketRecord[]> {
    return this.core.metadata.listBuckets();
  }

  /** Stores a user record if it is newer than the one held. */
  putUser(record: UserRecord): Promise<void> {
    return this.core.metadata.putUser(record);
  }

  /** Every user record, removed users included. */
  listUsers(): Promise<UserRecord[]> {
    return this.core.metadata.listUsers();
  }

  /** The user record (or target record, `target:NAME`) named `name`, removed ones included, if this node holds it. */
  userRecord(name: string): Promise<UserRecord | undefined> {
    return this.core.metadata.getUser(name);
  }

  /** Reports the duration of every synced metadata write (seconds) to `observer`: the node's fsync latency. */
  observeSyncedWrites(observer: (seconds: number) => void): void {
    this.core.metadata.observeSyncedWrites(observer);
  }

  /** Free bytes on the data directory's file system. */
  freeBytes(): Promise<number> {
    return this.core.freeBytes();
  }

  /** Opens LevelDB and recovers from a crash before anything is served (no write can be in flight yet). */
  async open(): Promise<RecoveryReport> {
    let tmpFilesRemoved = 0;
    try {
      await this.core.metadata.open();
    } catch (err) {
      // On a full disk, what interrupted writes left in tmp/ may be the room LevelDB needs to open. Only
      // after an open that failed for space: a second process on this directory fails on LevelDB's lock.
      if (!isNoSpace(err) && !isNoSpace((err as Error).cause)) throw err;
      tmpFilesRemoved = await emptyDirectory(this.core.tmpDir);
      if (tmpFilesRemoved === 0) throw err;
      await this.core.metadata.open();
    }
    tmpFilesRemoved += await emptyDirectory(this.core.tmpDir);
    await this.core.direct.probe(this.core.tmpDir);
    await this.core.segments.open();
    this.recovery = await recoverStore({
      segments: this.core.segments,
      tmpFilesRemoved,
      metadata: this.core.metadata,
      shardDir: this.core.shardDir,
      fsync: this.core.fsync,
      clock: this.core.clock,
      preparedGraceMs: this.core.preparedGraceMs,
      countUsage: this.core.space.limitBytes !== null,
      dropPrepared: (ref, prepared) => this.core.dropPrepared(ref, prepared),
      logger: this.core.logger,
    });
    this.core.space.reset(this.recovery.usedBytes);
    this.core.quarantineCount = this.recovery.quarantinedShards;
    return this.recovery;
  }

  /** Whether shard files are read and written past the page cache (direct-io.ts): known once open() has run. */
  get directIo(): boolean {
    return this.core.direct.enabled;
  }

  /** Closes LevelDB. */
  async close(): Promise<void> {
    // A write whose client went away still runs; closing LevelDB under it would strand its renamed
    // file without a row (an orphan for the next start-up), so wait for the writes in flight.
    while (this.core.inFlight.size > 0) await Promise.allSettled([...this.core.inFlight]);
    await this.core.segments.close();
    await this.core.metadata.close();
  }

  /** Where shard files and temporary files live, for the garbage collector's sweep of files no row points to. */
  get directories(): { shardDir: string; tmpDir: string } {
    return { shardDir: this.core.shardDir, tmpDir: this.core.tmpDir };
  }

  /** Whether a shard write in progress owns `path` (a temporary file, or a shard file not yet recorded): never garbage. */
  isWriting(path: string): boolean {
    return this.core.preparer.isWriting(path);
  }

  /** Shards being prepared now, of every kind (a write under way on this node). */
  get writesInFlight(): number {
    return this.core.preparer.writesInFlight;
  }

  /** Checksum mismatches seen on reads since start. */
  get checksumFailures(): number {
    return this.core.checksumFailureCount;
  }

  /** Counters for the health report. */
  get stats(): ShardStoreStats {
    return {
      checksumFailures: this.core.checksumFailureCount,
      quarantinedShards: this.core.quarantineCount,
      noSpaceRefusals: this.core.noSpaceCount,
      ioErrors: this.core.ioErrorCount + this.core.metadata.writeFailures,
      capacityBytes: this.core.space.limitBytes,
      usedBytes: this.core.space.limitBytes === null ? null : this.core.space.usedBytes,
      lastRecovery: this.recovery,
    };
  }

  /** Rows and bytes the metadata's row cache holds now. */
  get cachedRows(): { rows: number; bytes: number } {
    return this.core.metadata.cachedRows;
  }

  /** The newest record of bucket `name` this node holds (a tombstone when deleted), if any; kept in memory. */
  bucketRecord(name: string): Promise<BucketRecord | undefined> {
    return this.core.incarnations.held(name);
  }

  /**
   * Stores a bucket record if newer. A closing or deleted record is acknowledged once every commit the
   * node took into that bucket before it has been applied (bucket-incarnations.ts).
   */
  async putBucket(record: BucketRecord): Promise<void> {
    await this.core.incarnations.stored(await this.core.metadata.putBucket(record));
  }

  /** Names of every shard file on disk, for tests and tools. */
  async shardFiles(): Promise<string[]> {
    const names: string[] = [];
    for (const dir of await readdir(this.core.shardDir)) {
      for (const name of await readdir(join(this.core.shardDir, dir))) names.push(`${dir}/${name}`);
    }
    return names;
  }

  /** Stores a streamed shard durably but invisibly; returns its size. */
  prepare(ref: ShardRef, erasure: ErasureParams, body: Readable | Buffer, signal?: AbortSignal, options: PrepareOptions = {}): Promise<number> {
    return this.writes.prepare(ref, erasure, body, signal, options);
  }

  /** Makes a version visible. */
  commit(request: CommitRequest): Promise<void> {
    return this.writes.commit(request);
  }

  /** Drops a prepared shard; unknown ones are ignored so aborts can be retried. */
  abort(ref: ShardRef): Promise<void> {
    return this.writes.abort(ref);
  }

  /** Replaces the tags of the current version in place: only the metadata row changes, never the data. */
  updateTags(request: TagUpdateRequest): Promise<void> {
    return this.writes.updateTags(request);
  }

  /**
   * Settles the replication of changes this node logged (by change id): the version each is about
   * takes the outcome as its replicationStatus, in place (ShardWrites.settleReplication).
   */
  async settleReplication(outcomes: Readonly<Record<string, ReplicationOutcome>>): Promise<void> {
    const versions = await this.core.metadata.changes.changedVersions(Object.keys(outcomes));
    for (const { id, bucket, key, versionId } of versions) {
      const outcome = outcomes[id];
      if (outcome !== undefined) await this.writes.settleReplication(bucket, key, versionId, outcome);
    }
  }

  /**
   * Sets a version's replication status in place, also when it has none (a resync sent a version no
   * change logged for replication); a replica's stays REPLICA, and a version not held is ignored.
   */
  setReplicationStatus(request: ReplicationStatusRequest): Promise<void> {
    return this.writes.settleReplication(request.bucket, request.key, request.versionId, request.status, { unlogged: true });
  }

  /** Replaces how a version seals its data key (master-key rotation), in place, current or not. */
  reseal(request: ResealRequest): Promise<void> {
    return this.writes.reseal(request);
  }

  /** The newest committed version of a key on this node. */
  objectStatus(bucket: string, objectName: string): Promise<StoredObject | undefined> {
    return this.reads.objectStatus(bucket, objectName);
  }

  /** One version of a key by id; `null` names the key's null version. */
  versionStatus(bucket: string, key: string, versionId: string): Promise<StoredObject | undefined> {
    return this.reads.versionStatus(bucket, key, versionId);
  }

  /** Version listing rows for a bucket; an `afterVersion` of `null` resumes after the marker key's null version. */
  listVersions(query: VersionListQuery): Promise<VersionListRows> {
    return this.reads.listVersions(query);
  }

  /** Listing rows for a bucket. */
  list(query: ListQuery): Promise<ListedRows> {
    return this.reads.list(query);
  }

  /** Opens a committed shard for reading and checks its header before anything is sent, so a bad or. */
  openShard(requested: ShardRef, offsetBytes: number, lengthBytes: number, into: ChunkMemory = {}): Promise<{ sizeBytes: number; chunks: AsyncGenerator<Buffer> }> {
    return this.reads.openShard(requested, offsetBytes, lengthBytes, into);
  }

  /** A key's newest version on this node with its shard's bytes when the shard is inline: the row and. */
  objectStatusWithInline(bucket: string, objectName: string): Promise<{ stored: StoredObject; inlineShard: Buffer | null } | undefined> {
    return this.reads.objectStatusWithInline(bucket, objectName);
  }

  /** Removes one version of a key for good (S3's DELETE with a versionId): when it is the current one,. */
  deleteVersion(
    bucket: string,
    key: string,
    versionId: string,
    options: { bypassGovernance?: boolean | undefined; change?: ChangeNote | undefined } = {},
  ): Promise<ObjectRecord | null> {
    return this.deletes.deleteVersion(bucket, key, versionId, options);
  }

  /** Forgets the node's copy of a key if it is still `versionId`: rebalance calls this once the new owners. */
  dropVersion(bucket: string, key: string, versionId: string): Promise<boolean> {
    return this.deletes.dropVersion(bucket, key, versionId);
  }

  /** Forgets this node's copy of a noncurrent version (rebalance, once the key's new set holds it): no. */
  dropNoncurrentVersion(bucket: string, key: string, versionId: string): Promise<boolean> {
    return this.deletes.dropNoncurrentVersion(bucket, key, versionId);
  }

  /** Drops a quarantine row whose version this node no longer holds (a newer write replaced it). */
  forgetQuarantined(ref: ShardRef): Promise<void> {
    return this.deletes.forgetQuarantined(ref);
  }

  /** Seals the open segment if its file was removed from under the node (segment-log.ts): scrub and collector passes call it. */
  sealUnlinkedSegment(): Promise<void> {
    return this.compaction.sealUnlinkedSegment();
  }

  /** The first sealed segment numbered above `after`, with the bytes its registered images hold: what compaction looks at next. */
  segmentUsageAfter(after: number): Promise<SegmentUsage | null> {
    return this.compaction.segmentUsageAfter(after);
  }

  /** Copies the registered images of a sealed segment to the open one, each under its key's lock and. */
  compactSegment(segment: number, signal: AbortSignal): Promise<CompactionResult> {
    return this.compaction.compactSegment(segment, signal);
  }

}
