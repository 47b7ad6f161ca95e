import type { BucketRecord, ListQuery, ShardRef, UserRecord, VersionListQuery } from '../rpc/index.js';
import type { MetadataOp } from './group-commit.js';
import { BucketRows } from './metadata/bucket-rows.js';
import { HousekeepingRows } from './metadata/housekeeping-rows.js';
import { ChangeRows } from './metadata/change-rows.js';
import type { ExtraRow } from './metadata/object-rows.js';
import { IndexRows } from './metadata/index-rows.js';
import { MetadataDb } from './metadata/metadata-db.js';
import { MetadataSchema } from './metadata/metadata-schema.js';
import { ObjectRows } from './metadata/object-rows.js';
import { ShardRows } from './metadata/shard-rows.js';
import { UsageRows } from './metadata/usage-rows.js';
import type {
  HashIndexEntry,
  ListedRows,
  PartitionVersionRow,
  PreparedRow,
  PreparedShard,
  QuarantineEntry,
  StoredObject,
  VersionCursor,
  VersionGone,
  VersionListRows,
  VersionMark,
  VersionRowCursor,
} from './metadata/stored-object.js';

export { MetadataWriteFenced } from './group-commit.js';
export { METADATA_SCHEMA_VERSION } from './metadata/metadata-schema.js';
export {
  goneRecord,
  storedRef,
  toObjectStatus,
  type HashIndexEntry,
  type ListedRow,
  type ListedRows,
  type PartitionVersionRow,
  type PreparedRow,
  type PreparedShard,
  type QuarantineEntry,
  type QuarantineReason,
  type StoredObject,
  type VersionCursor,
  type VersionGone,
  type VersionListRow,
  type VersionListRows,
  type VersionMark,
  type VersionRowCursor,
} from './metadata/stored-object.js';

/**
 * The node's LevelDB (layout: metadata/metadata-schema.ts), by row family: committed objects and their
 * versions (ObjectRows), prepared and inline shards and the file registry (ShardRows), buckets and users
 * (BucketRows), and the rows background work keeps (HousekeepingRows). Code that needs one family uses
 * it; the flat methods below delegate to them, for callers (tests, tools) that take the store whole.
 */
export class MetadataStore {
  readonly objectRows: ObjectRows;
  readonly shardRows: ShardRows;
  readonly bucketRows: BucketRows;
  readonly housekeeping: HousekeepingRows;
  /** The replicas of bucket index shards this node holds (docs/bucket-index.md). */
  readonly indexRows: IndexRows;
  readonly changes: ChangeRows;
  /** Per-bucket usage counts, changed in the batches that change version rows (usage-rows.ts). */
  readonly usage: UsageRows;
  private readonly meta: MetadataDb;
  private readonly schema: MetadataSchema;

  /**
   * `sync: false` skips LevelDB's fsync of each write: for benchmarks only. `rowCacheBytes` bounds the
   * rows kept in memory (DEFAULTS.rowCacheBytes; 0 keeps none); `writeBufferBytes` is LevelDB's write
   * buffer (DEFAULTS.metadataWriteBufferBytes). Nothing touches the disk until open().
   */
  constructor(location: string, options: { sync?: boolean; rowCacheBytes?: number | undefined; writeBufferBytes?: number | undefined } = {}) {
    this.meta = new MetadataDb(location, options);
    this.objectRows = new ObjectRows(this.meta);
    this.shardRows = new ShardRows(this.meta);
    this.bucketRows = new BucketRows(this.meta);
    this.housekeeping = new HousekeepingRows(this.meta);
    this.indexRows = new IndexRows(this.meta);
    this.changes = new ChangeRows(this.meta);
    this.usage = new UsageRows(this.meta);
    this.schema = new MetadataSchema(this.meta, this.shardRows);
  }

  /** Opens the database (creating it when absent); may be called again after a failed open. */
  open(): Promise<void> {
    return this.meta.open();
  }

  /** Closes the database once the writes submitted so far have settled (nothing to do if it was never opened). */
  close(): Promise<void> {
    return this.meta.close();
  }

  /** 'open' or 'closed', for health reports. */
  get status(): 'open' | 'closed' {
    return this.meta.status;
  }

  /** LevelDB writes that failed since start (a full disk or an I/O error), for health reports. */
  get writeFailures(): number {
    return this.meta.writeFailures;
  }

  /** Batches submitted and LevelDB writes issued since start, for benchmarks and tests. */
  get writeCounts(): { batches: number; levelWrites: number } {
    return this.meta.writeCounts;
  }

  /** Rows and bytes the row cache holds now. */
  get cachedRows(): { rows: number; bytes: number } {
    return this.meta.cachedRows;
  }

  /** Hands every LevelDB write done from now on to `observer`, with whether it was synced (tests). */
  observeWrites(observer: (ops: readonly MetadataOp[], sync: boolean) => void): void {
    this.meta.observeWrites(observer);
  }

  /** Reports the duration of every synced write (seconds) to `observer`: the node's fsync latency. */
  observeSyncedWrites(observer: (seconds: number) => void): void {
    this.meta.observeSyncedWrites(observer);
  }

  /** The schema version recorded in the database (MetadataSchema.schemaVersion). */
  schemaVersion(): Promise<number> {
    return this.schema.schemaVersion();
  }

  /** Brings an older database to this layout (MetadataSchema.migrate). */
  migrate(): Promise<void> {
    return this.schema.migrate();
  }

  // Objects and their versions (ObjectRows).
  getObject(bucket: string, objectName: string): Promise<StoredObject | undefined> {
    return this.objectRows.getObject(bucket, objectName);
  }

  getObjectAndPrepared(ref: ShardRef): Promise<{ stored: StoredObject | undefined; prepared: PreparedShard | undefined; image: Buffer | undefined }> {
    return this.objectRows.getObjectAndPrepared(ref);
  }

  /** Reads a key's committed row and a shard's prepared row into the row cache in one trip, for the prepare about to ask for both. */
  warmPrepared(ref: ShardRef): Promise<void> {
    return this.objectRows.warmPrepared(ref);
  }

  getObjectAndInline(ref: ShardRef): Promise<{ stored: StoredObject | undefined; image: Buffer | undefined }> {
    return this.objectRows.getObjectAndInline(ref);
  }

  getVersion(bucket: string, key: string, versionId: string): Promise<StoredObject | undefined> {
    return this.objectRows.getVersion(bucket, key, versionId);
  }

  keyVersions(bucket: string, key: string): Promise<StoredObject[]> {
    return this.objectRows.keyVersions(bucket, key);
  }

  keyVersionsFrom(bucket: string, key: string, oldestVersionId: string): Promise<StoredObject[]> {
    return this.objectRows.keyVersionsFrom(bucket, key, oldestVersionId);
  }

  versionRowsPage(after: VersionRowCursor | null, limit: number): Promise<StoredObject[]> {
    return this.objectRows.versionRowsPage(after, limit);
  }

  keyVersionsPage(bucket: string, key: string, afterVersionId: string | null, limit: number): Promise<StoredObject[]> {
    return this.objectRows.keyVersionsPage(bucket, key, afterVersionId, limit);
  }

  commitObject(stored: StoredObject, previous: StoredObject | undefined, options: Parameters<ObjectRows['commitObject']>[2] = {}): Promise<void> {
    return this.objectRows.commitObject(stored, previous, options);
  }

  commitNoncurrent(stored: StoredObject, options: Parameters<ObjectRows['commitNoncurrent']>[1] = {}): Promise<void> {
    return this.objectRows.commitNoncurrent(stored, options);
  }

  rewriteObject(stored: StoredObject, extraRows: readonly ExtraRow[] = []): Promise<void> {
    return this.objectRows.rewriteObject(stored, extraRows);
  }

  rewriteVersion(stored: StoredObject, extraRows: readonly ExtraRow[] = []): Promise<void> {
    return this.objectRows.rewriteVersion(stored, extraRows);
  }

  deleteVersion(target: StoredObject, isCurrent: boolean, promote: StoredObject | undefined, gone?: VersionGone, extraRows: readonly ExtraRow[] = []): Promise<void> {
    return this.objectRows.deleteVersion(target, isCurrent, promote, gone, extraRows);
  }

  dropNoncurrent(stored: StoredObject): Promise<void> {
    return this.objectRows.dropNoncurrent(stored);
  }

  dropObject(stored: StoredObject): Promise<void> {
    return this.objectRows.dropObject(stored);
  }

  listObjects(query: ListQuery): Promise<ListedRows> {
    return this.objectRows.listObjects(query);
  }

  listVersions(query: VersionListQuery, afterVersionId: string | undefined): Promise<VersionListRows> {
    return this.objectRows.listVersions(query, afterVersionId);
  }

  bucketHasObjects(bucket: string): Promise<boolean> {
    return this.objectRows.bucketHasObjects(bucket);
  }

  objects(): AsyncGenerator<StoredObject> {
    return this.objectRows.objects();
  }

  // Prepared and inline shards, the file registry (ShardRows).
  getPrepared(ref: ShardRef): Promise<PreparedShard | undefined> {
    return this.shardRows.getPrepared(ref);
  }

  getInline(ref: ShardRef): Promise<Buffer | undefined> {
    return this.shardRows.getInline(ref);
  }

  hasFile(file: string): Promise<boolean> {
    return this.shardRows.hasFile(file);
  }

  putPrepared(ref: ShardRef, prepared: PreparedShard, image?: Buffer, replacesFile?: string): Promise<void> {
    return this.shardRows.putPrepared(ref, prepared, image, replacesFile);
  }

  dropPrepared(ref: ShardRef, prepared: PreparedShard, keepData: boolean): Promise<void> {
    return this.shardRows.dropPrepared(ref, prepared, keepData);
  }

  preparedShards(): AsyncGenerator<PreparedRow> {
    return this.shardRows.preparedShards();
  }

  filesUnder(directory: string): AsyncGenerator<{ file: string; ref: ShardRef }> {
    return this.shardRows.filesUnder(directory);
  }

  forgetFile(file: string): Promise<void> {
    return this.shardRows.forgetFile(file);
  }

  relocateShard(ref: ShardRef, fromFile: string, toFile: string, current: StoredObject | undefined, versions: readonly StoredObject[]): Promise<void> {
    return this.shardRows.relocateShard(ref, fromFile, toFile, current, versions);
  }

  // Buckets and users (BucketRows).
  putBucket(record: BucketRecord): Promise<BucketRecord> {
    return this.bucketRows.putBucket(record);
  }

  getBucket(name: string): Promise<BucketRecord | undefined> {
    return this.bucketRows.getBucket(name);
  }

  listBuckets(): Promise<BucketRecord[]> {
    return this.bucketRows.listBuckets();
  }

  putUser(record: UserRecord): Promise<void> {
    return this.bucketRows.putUser(record);
  }

  listUsers(): Promise<UserRecord[]> {
    return this.bucketRows.listUsers();
  }

  getUser(name: string): Promise<UserRecord | undefined> {
    return this.bucketRows.getUser(name);
  }

  // Quarantine, version tombstones, placement-index walks, cursors (HousekeepingRows).
  quarantine(entry: QuarantineEntry): Promise<boolean> {
    return this.housekeeping.quarantine(entry);
  }

  quarantined(): AsyncGenerator<QuarantineEntry> {
    return this.housekeeping.quarantined();
  }

  isQuarantined(ref: ShardRef): Promise<boolean> {
    return this.housekeeping.isQuarantined(ref);
  }

  clearQuarantine(ref: ShardRef): Promise<boolean> {
    return this.housekeeping.clearQuarantine(ref);
  }

  putVersionGone(gone: VersionGone, extraRows: readonly ExtraRow[] = []): Promise<void> {
    return this.housekeeping.putVersionGone(gone, extraRows);
  }

  getVersionGone(bucket: string, key: string, versionId: string): Promise<VersionGone | undefined> {
    return this.housekeeping.getVersionGone(bucket, key, versionId);
  }

  dropVersionGone(gone: VersionGone): Promise<void> {
    return this.housekeeping.dropVersionGone(gone);
  }

  versionGonePage(after: VersionCursor | null, limit: number, fromHash = 0n, toHash: bigint | null = null): Promise<{ rows: (VersionGone & { hashHex: string })[]; truncated: boolean }> {
    return this.housekeeping.versionGonePage(after, limit, fromHash, toHash);
  }

  hashRange(fromHash: bigint, toHash: bigint | null): AsyncGenerator<HashIndexEntry> {
    return this.housekeeping.hashRange(fromHash, toHash);
  }

  partitionKeys(partition: number, partitionBits: number): AsyncGenerator<HashIndexEntry> {
    return this.housekeeping.partitionKeys(partition, partitionBits);
  }

  hashIndexPage(after: HashIndexEntry | null, limit: number, toHash: bigint | null = null): Promise<HashIndexEntry[]> {
    return this.housekeeping.hashIndexPage(after, limit, toHash);
  }

  countKeys(): Promise<number> {
    return this.housekeeping.countKeys();
  }

  versionPage(after: VersionCursor | null, limit: number, fromHash: bigint, toHash: bigint | null): Promise<{ rows: PartitionVersionRow[]; truncated: boolean }> {
    return this.housekeeping.versionPage(after, limit, fromHash, toHash);
  }

  versionMarks(fromHash: bigint, toHash: bigint | null): AsyncGenerator<VersionMark[]> {
    return this.housekeeping.versionMarks(fromHash, toHash);
  }

  loadCursor(name: string): Promise<string | null> {
    return this.housekeeping.loadCursor(name);
  }

  saveCursor(name: string, cursor: string | null): Promise<void> {
    return this.housekeeping.saveCursor(name, cursor);
  }
}
