import { ClassicLevel } from 'classic-level';
import { DEFAULTS, compareVersionIds } from '../common/index.js';
import { partitionHashRange, placementHashHex } from '../placement/index.js';
import { shardDataId, shardRefOf, type BucketRecord, type UserRecord, type ListQuery, type ObjectRecord, type ObjectStatus, type ShardRef, type VersionListQuery } from '../rpc/index.js';
import { GroupCommitWriter, MetadataBatch, type MetadataOp } from './group-commit.js';
import { ROW, afterPrefix, keyParts, kindRange, newestFirst, prefixRange, rowKey } from './metadata-keys.js';
import { RowCache } from './row-cache.js';

export { MetadataWriteFenced } from './group-commit.js';

/**
 * LevelDB layout of a node's metadata (schema 3). Keys are bytes: a one-letter kind, then parts each
 * after a 0x00 (metadata-keys.ts); since names never hold 0x00 or 0xFF, a bucket's keys sort in
 * UTF-8 byte order, which is S3's listing order. `ver` is a 24-character version id (HLC time then
 * writer, taken when the write commits, so text order is commit order); `data` is the id a version's
 * shards were prepared under (the record's `dataId`, or its version id when it has none: records
 * written before commit-time ids, record-only versions); `shard` is the decimal shard index.
 *
 *   o 00 bucket 00 key                    -> StoredObject JSON. The per-bucket ordered index listing walks,
 *                                            and the version record: the newest committed version of the
 *                                            key on this node (live or tombstone) and the shard it holds.
 *   v 00 bucket 00 key 00 nf(ver)         -> StoredObject JSON of every version the node keeps of the key,
 *                                            the current one (the `o` row's) included; nf() turns the id
 *                                            so that a key's versions sort newest first (S3's version
 *                                            listing order). Noncurrent versions exist only where the
 *                                            bucket's versioning kept them; their shard data stays in
 *                                            its `d` row or file until the version is deleted.
 *   h 00 hash 00 bucket 00 key            -> empty. The placement index the scrubber walks: `hash` is
 *                                            placementHash(bucket, key) as 16 hex digits, so the keys of
 *                                            ring partition P (of B bits) are the range of hashes
 *                                            [P << (64-B), (P+1) << (64-B)), whatever B the ring uses.
 *                                            Exists exactly when the `o` row does.
 *   p 00 bucket 00 key 00 data 00 shard   -> PreparedShard JSON: a durable shard that is not visible yet.
 *   d 00 bucket 00 key 00 data 00 shard   -> an inline shard's image (the shard-file format, checksummed
 *                                            chunks and all) for shards at most the inline threshold.
 *                                            Written with its `p` row; deleted with the last row that
 *                                            points to it, in the same batch.
 *   f 00 file                             -> ShardRef JSON: the registry of shard files under shards/, and
 *                                            of shard images in segments (`seg/<segment>/<offset>/<length>`,
 *                                            schema 4: a segment's images are one range, in offset order).
 *                                            Written in the batch that first points to the file, deleted
 *                                            in the batch that drops the last pointer; the file itself
 *                                            is removed after that batch. So at start-up a file without
 *                                            an `f` row is garbage, and an `f` row without a file is a
 *                                            lost shard.
 *   q 00 bucket 00 key 00 data 00 shard   -> QuarantineEntry JSON: a shard that failed its checksums or
 *                                            went missing, for the repair worker to rebuild from the
 *                                            other nodes; repair deletes the row when the shard is good.
 *   x 00 hash 00 bucket 00 key 00 ver    -> VersionGone JSON: a version deleted by id (S3's DELETE with a
 *                                            versionId, lifecycle's expiry). Written by every delete of
 *                                            the version, held or not, so a commit of it (a repair, a late
 *                                            write) is refused and audits remove it from a member that
 *                                            missed the delete. Keyed by placement hash like `h`, so a
 *                                            partition's rows are one range; collected after a grace.
 *   y 00 bucket 00 key 00 nf(ver)         -> VersionGone JSON: the same tombstone in version-listing order, written
 *                                            and dropped with its `x` row, so a version listing shows
 *                                            what this node knows is deleted beside what it holds.
 *   b 00 bucket                           -> BucketRecord JSON (the newest version id wins).
 *   u 00 user name                        -> UserRecord JSON (the newest version id wins).
 *   n 00 name                             -> node-local state: `schema` (this layout's version), and
 *                                            `cursor/<worker>`: where a background worker resumes after a restart.
 *
 * A version becomes visible only in the synced batch that writes its `o` row, removes its `p` row
 * and drops the rows of the version it replaces. Listing reads `o` rows only; shard bytes live in
 * `d` rows or files, so a listing page never loads object data.
 */
export const METADATA_SCHEMA_VERSION = 4;

const CACHED_KINDS = new Set([ROW.object, ROW.inline].map((kind) => kind.charCodeAt(0)));

/**
 * The row kinds the row cache keeps: what a read of a key's current version answers from, its committed
 * row and inline shard images. Version rows (named versions) and prepared rows (read once, by their
 * commit) are not worth their writes' upkeep.
 */
function isCachedRow(key: Buffer): boolean {
  return CACHED_KINDS.has(key[0] ?? -1);
}

/** The newest committed version of a key on a node, and where this node keeps its shard. */
export interface StoredObject {
  record: ObjectRecord;
  shardIndex: number | null;
  shardSizeBytes: number;
  /** Shard file name under the node's shard directory; null for tombstones and inline shards. */
  file: string | null;
  /** True when the shard is the `d` row of this version. */
  inline?: boolean;
}

/** A prepared (durable, invisible) shard awaiting commit or abort. */
export interface PreparedShard {
  /** Shard file name; null when the shard is inline. */
  file: string | null;
  inline?: boolean;
  shardSizeBytes: number;
  preparedMs: number;
}

/** A prepared shard with its identity, as start-up recovery and garbage collection see it. */
export type PreparedRow = PreparedShard & ShardRef;

/** Why a shard was quarantined. */
export type QuarantineReason = 'checksum' | 'missing';

/** A shard this node can no longer serve, waiting for repair. */
export interface QuarantineEntry extends ShardRef {
  reason: QuarantineReason;
  detail: string;
  detectedMs: number;
}

/** A version deleted by id: the per-version tombstone (`x` row). */
export interface VersionGone {
  bucket: string;
  key: string;
  versionId: string;
  deletedMs: number;
  /** The delete bypassed GOVERNANCE retention (the requester was allowed to): its spread by audits may too. */
  bypassGovernance?: boolean;
}

/** A row of a node's version listing: a version it holds, or (`gone`) one it knows was deleted by id. */
export type VersionListRow = StoredObject & { gone?: true };

/** A version row of a partition listing and where the listing resumes after it. */
export interface PartitionVersionRow extends HashIndexEntry {
  stored: StoredObject;
}

/** Where a partition's version or tombstone listing resumes: the last row of the previous page (exclusive). */
export interface VersionCursor extends HashIndexEntry {
  versionId: string;
}

/** A key in the placement index. */
export interface HashIndexEntry {
  hashHex: string;
  bucket: string;
  key: string;
}

function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

function parse<T>(value: Buffer): T {
  return JSON.parse(value.toString('utf8')) as T;
}

/** A shard's row-key parts: named by the id its data was written under (shardDataId), like its file. */
function shardParts(ref: ShardRef): string[] {
  return [ref.bucket, ref.key, shardDataId(ref), String(ref.shardIndex)];
}

function refOf(parts: readonly string[]): ShardRef {
  return { bucket: parts[0] ?? '', key: parts[1] ?? '', versionId: parts[2] ?? '', shardIndex: Number(parts[3]) };
}

/** The shard a stored object's row points to, if it holds one. */
export function storedRef(stored: StoredObject): ShardRef | null {
  if (stored.shardIndex === null) return null;
  return shardRefOf(stored.record, stored.shardIndex);
}

/** The node's LevelDB: object index, placement index, prepared and inline shards, file registry, quarantine, buckets. */
export class MetadataStore {
  private readonly location: string;
  /**
   * Made by open(), not by the constructor: a classic-level database starts opening as soon as it
   * exists, so a store made and then given up (its owner refused its options) would leave one opening,
   * holding the directory's lock.
   */
  private handle: ClassicLevel<Buffer, Buffer> | undefined;
  private readonly writer: GroupCommitWriter;
  private readonly writeBufferBytes: number;
  /** Rows that reads answer from without LevelDB (row-cache.ts). */
  private readonly rows: RowCache;
  private writeObserver: ((ops: readonly MetadataOp[], sync: boolean) => void) | undefined;

  /**
   * `sync: false` skips LevelDB's fsync of each write: for benchmarks only. `rowCacheBytes` bounds the
   * rows kept in memory (DEFAULTS.rowCacheBytes; 0 keeps none); `writeBufferBytes` is LevelDB's write
   * buffer (DEFAULTS.metadataWriteBufferBytes). Nothing touches the disk until open().
   */
  constructor(location: string, options: { sync?: boolean; rowCacheBytes?: number | undefined; writeBufferBytes?: number | undefined } = {}) {
    this.location = location;
    this.writeBufferBytes = options.writeBufferBytes ?? DEFAULTS.metadataWriteBufferBytes;
    this.writer = new GroupCommitWriter((ops, sync) => this.writeBatch(ops, sync), options.sync ?? true);
    this.rows = new RowCache(options.rowCacheBytes ?? DEFAULTS.rowCacheBytes, isCachedRow);
  }

  private get db(): ClassicLevel<Buffer, Buffer> {
    if (this.handle === undefined) throw new Error(`the metadata store at ${this.location} was never opened`);
    return this.handle;
  }

  /** Opens the database (creating it when absent); may be called again after a failed open. */
  async open(): Promise<void> {
    this.handle ??= new ClassicLevel<Buffer, Buffer>(this.location, { keyEncoding: 'buffer', valueEncoding: 'buffer', writeBufferSize: this.writeBufferBytes });
    await this.handle.open();
  }

  /** Closes the database once the writes submitted so far have settled (nothing to do if it was never opened). */
  async close(): Promise<void> {
    await this.writer.idle();
    await this.handle?.close();
  }

  /** 'open' or 'closed', for health reports. */
  get status(): 'open' | 'closed' {
    return this.db.status === 'open' ? 'open' : 'closed';
  }

  /** LevelDB writes that failed since start (a full disk or an I/O error), for health reports. */
  get writeFailures(): number {
    return this.writer.failureCount;
  }

  /**
   * Batches callers submitted and LevelDB writes issued since start (each one fsync when syncing), for
   * benchmarks and tests of how writes share a sync.
   */
  get writeCounts(): { batches: number; levelWrites: number } {
    return this.writer.counts;
  }

  /**
   * Hands every LevelDB write done from now on to `observer`, with whether it was synced: what a power
   * cut that loses the unsynced ones would leave, for tests.
   */
  observeWrites(observer: (ops: readonly MetadataOp[], sync: boolean) => void): void {
    this.writeObserver = observer;
  }

  /** Reports the duration of every synced write (seconds) to `observer`: the node's fsync latency. */
  observeSyncedWrites(observer: (seconds: number) => void): void {
    this.writer.syncObserver = observer;
  }

  /** The schema version recorded in the database; 1 for a database written before the version row existed, 0 when empty. */
  async schemaVersion(): Promise<number> {
    const value = await this.db.get(rowKey(ROW.node, 'schema'));
    if (value !== undefined) return Number(value.toString('utf8'));
    for await (const _ of this.db.keys({ ...kindRange(ROW.object), limit: 1 })) return 1;
    for await (const _ of this.db.keys({ ...kindRange(ROW.prepared), limit: 1 })) return 1;
    return 0;
  }

  /**
   * Brings a schema-1 database to this layout: adds the placement index and file registry rows that
   * schema 1 lacked (without them start-up recovery would take every file for garbage).
   */
  async migrate(): Promise<void> {
    const version = await this.schemaVersion();
    if (version === METADATA_SCHEMA_VERSION) return;
    if (version > METADATA_SCHEMA_VERSION) throw new Error(`metadata schema ${version} is newer than this node (${METADATA_SCHEMA_VERSION})`);
    let batch = new MetadataBatch();
    const flushEvery = async (): Promise<void> => {
      if (batch.length < 1000) return;
      await this.write(batch);
      batch = new MetadataBatch();
    };
    // Schema 4 only adds a form of file name (segment places), which no older row holds.
    if (version < 3) {
      for await (const value of this.db.values(kindRange(ROW.object))) {
        const stored = parse<StoredObject>(value);
        const { bucket, key } = stored.record;
        // Schema 3: every current version has its version row too.
        batch.put(versionKey(stored.record), value);
        if (version < 2) {
          batch.put(rowKey(ROW.hashIndex, placementHashHex(bucket, key), bucket, key), Buffer.alloc(0));
          const ref = storedRef(stored);
          if (ref !== null && stored.file !== null) batch.put(rowKey(ROW.file, stored.file), json(ref));
        }
        await flushEvery();
      }
    }
    if (version < 2) {
      for await (const row of this.preparedShards()) {
        if (row.file !== null) batch.put(rowKey(ROW.file, row.file), json(refFromRow(row)));
        await flushEvery();
      }
    }
    batch.put(rowKey(ROW.node, 'schema'), Buffer.from(String(METADATA_SCHEMA_VERSION)));
    await this.write(batch);
  }

  /** The newest committed version of a key on this node. */
  async getObject(bucket: string, objectName: string): Promise<StoredObject | undefined> {
    const value = await this.cachedGet(rowKey(ROW.object, bucket, objectName));
    return value === undefined ? undefined : parse<StoredObject>(value);
  }

  /** A prepared shard, if present. */
  async getPrepared(ref: ShardRef): Promise<PreparedShard | undefined> {
    const value = await this.cachedGet(rowKey(ROW.prepared, ...shardParts(ref)));
    return value === undefined ? undefined : parse<PreparedShard>(value);
  }

  /**
   * A key's committed row and one shard's prepared row, read together: one snapshot, one trip through
   * libuv's pool instead of two (a commit needs both).
   */
  async getObjectAndPrepared(ref: ShardRef): Promise<{ stored: StoredObject | undefined; prepared: PreparedShard | undefined; image: Buffer | undefined }> {
    const [stored, prepared, image] = await this.cachedGetMany([
      rowKey(ROW.object, ref.bucket, ref.key),
      rowKey(ROW.prepared, ...shardParts(ref)),
      rowKey(ROW.inline, ...shardParts(ref)),
    ]);
    return {
      stored: stored === undefined ? undefined : parse<StoredObject>(stored),
      prepared: prepared === undefined ? undefined : parse<PreparedShard>(prepared),
      image,
    };
  }

  /**
   * A key's committed row and, when the shard `ref` is inline, its image, read together from one
   * snapshot (a read of an inline shard needs both; a file shard's read just finds no image).
   */
  async getObjectAndInline(ref: ShardRef): Promise<{ stored: StoredObject | undefined; image: Buffer | undefined }> {
    const keys = [rowKey(ROW.version, ref.bucket, ref.key, newestFirst(ref.versionId)), rowKey(ROW.object, ref.bucket, ref.key), rowKey(ROW.inline, ...shardParts(ref))];
    // The current version's row, held by the row cache, is its version row too (both are written with
    // one value): only an inline shard then needs its image (readers use an image only when inline).
    const held = this.rows.get(keys[1] as Buffer);
    const current = held === null || held === undefined ? undefined : parse<StoredObject>(held);
    if (current !== undefined && current.record.versionId === ref.versionId) {
      return { stored: current, image: current.inline === true ? await this.cachedGet(keys[2] as Buffer) : undefined };
    }
    const [version, stored, image] = await this.cachedGetMany(keys);
    // The version's own row when it is noncurrent; the object row (current, or written before version rows existed) otherwise.
    const row = version ?? stored;
    return { stored: row === undefined ? undefined : parse<StoredObject>(row), image };
  }

  /** An inline shard's image, if present. */
  async getInline(ref: ShardRef): Promise<Buffer | undefined> {
    return this.cachedGet(rowKey(ROW.inline, ...shardParts(ref)));
  }

  /** Rows and bytes the row cache holds now. */
  get cachedRows(): { rows: number; bytes: number } {
    return this.rows.size;
  }

  /** A row of a kind the row cache keeps: from it when held, otherwise read and (if still current) kept. */
  private async cachedGet(key: Buffer): Promise<Buffer | undefined> {
    const held = this.rows.get(key);
    if (held !== undefined) return held ?? undefined;
    const token = this.rows.readToken();
    const value = await this.db.get(key);
    this.rows.fill(key, value, token);
    return value;
  }

  /**
   * Rows read together: from the row cache when it holds every one, otherwise in one LevelDB read
   * (one snapshot, one trip through libuv's pool) whose rows the cache then keeps.
   */
  private async cachedGetMany(keys: Buffer[]): Promise<(Buffer | undefined)[]> {
    const held: (Buffer | undefined)[] = [];
    for (const key of keys) {
      const row = this.rows.get(key);
      if (row === undefined) break;
      held.push(row ?? undefined);
    }
    if (held.length === keys.length) return held;
    const token = this.rows.readToken();
    const values = await this.db.getMany(keys);
    keys.forEach((key, i) => this.rows.fill(key, values[i], token));
    return values;
  }

  /** Whether a file is registered (some row points to it). */
  async hasFile(file: string): Promise<boolean> {
    return (await this.db.get(rowKey(ROW.file, file))) !== undefined;
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
    await this.writer.write(batch, false);
  }

  /**
   * Drops a prepared row in one synced write, and with it the shard's bytes (registry row or inline
   * image) unless `keepData` (the committed `o` row points at the same shard). The caller removes the file.
   */
  async dropPrepared(ref: ShardRef, prepared: PreparedShard, keepData: boolean): Promise<void> {
    const batch = new MetadataBatch().del(rowKey(ROW.prepared, ...shardParts(ref)));
    if (!keepData) dropShardData(batch, ref, prepared);
    await this.write(batch);
  }

  /**
   * Makes a version visible in one synced batch: writes its object, version and placement-index rows,
   * removes its prepared row, and drops the shard data of the version it replaces, unless
   * `keepPrevious` (versioning keeps it as a noncurrent version). `dropped` are noncurrent versions
   * the new one replaces for good (the key's previous null version). The caller has checked the
   * version is newer than `previous`, and removes the dropped files afterwards. `image` is the shard's
   * inline image as its prepare wrote it, written again with the commit (see carryShardRows).
   */
  async commitObject(
    stored: StoredObject,
    previous: StoredObject | undefined,
    options: { keepPrevious?: boolean; dropped?: readonly StoredObject[]; image?: Buffer | undefined } = {},
  ): Promise<void> {
    const { bucket, key } = stored.record;
    const value = json(stored);
    const batch = carryShardRows(new MetadataBatch(), stored, options.image)
      .put(rowKey(ROW.object, bucket, key), value)
      .put(versionKey(stored.record), value)
      .put(rowKey(ROW.hashIndex, placementHashHex(bucket, key), bucket, key), Buffer.alloc(0));
    const ref = storedRef(stored);
    if (ref !== null) batch.del(rowKey(ROW.prepared, ...shardParts(ref)));
    if (previous !== undefined && previous.record.versionId !== stored.record.versionId) {
      if (options.keepPrevious === true) batch.put(versionKey(previous.record), json(previous));
      else dropVersionRows(batch, previous);
    }
    for (const old of options.dropped ?? []) dropVersionRows(batch, old);
    await this.write(batch);
  }

  /**
   * Records a version older than the key's current one as noncurrent (a versioned bucket keeps every
   * write, whichever commits first), removing its prepared row; `dropped` and `image` as in commitObject.
   */
  async commitNoncurrent(stored: StoredObject, options: { dropped?: readonly StoredObject[]; image?: Buffer | undefined } = {}): Promise<void> {
    const batch = carryShardRows(new MetadataBatch(), stored, options.image).put(versionKey(stored.record), json(stored));
    const ref = storedRef(stored);
    if (ref !== null) batch.del(rowKey(ROW.prepared, ...shardParts(ref)));
    for (const old of options.dropped ?? []) dropVersionRows(batch, old);
    await this.write(batch);
  }

  /** One version of a key by its id, current or noncurrent. */
  async getVersion(bucket: string, key: string, versionId: string): Promise<StoredObject | undefined> {
    const [row, current] = await this.cachedGetMany([rowKey(ROW.version, bucket, key, newestFirst(versionId)), rowKey(ROW.object, bucket, key)]);
    if (row !== undefined) return parse<StoredObject>(row);
    const stored = current === undefined ? undefined : parse<StoredObject>(current);
    return stored?.record.versionId === versionId ? stored : undefined;
  }

  /** Every version this node keeps of a key, newest first (a key's own history: its cost is its version count). */
  async keyVersions(bucket: string, key: string): Promise<StoredObject[]> {
    const versions: StoredObject[] = [];
    for await (const value of this.db.values(prefixRange(Buffer.concat([rowKey(ROW.version, bucket, key), Buffer.of(0)])))) versions.push(parse<StoredObject>(value));
    return versions;
  }

  /**
   * Removes one version for good in one synced batch: its version row and shard data, and when it is
   * the current one, the object row becomes `promote` (the next newest) or goes with the placement
   * index row when no version is left. The caller holds the key's lock and removes the file afterwards.
   */
  async deleteVersion(target: StoredObject, isCurrent: boolean, promote: StoredObject | undefined, gone?: VersionGone): Promise<void> {
    const { bucket, key } = target.record;
    const batch = new MetadataBatch();
    dropVersionRows(batch, target);
    if (gone !== undefined) putGone(batch, gone);
    if (isCurrent) {
      if (promote !== undefined) batch.put(rowKey(ROW.object, bucket, key), json(promote));
      else batch.del(rowKey(ROW.object, bucket, key)).del(rowKey(ROW.hashIndex, placementHashHex(bucket, key), bucket, key));
    }
    await this.write(batch);
  }

  /** Records that a version this node does not hold was deleted by id (one synced write). */
  async putVersionGone(gone: VersionGone): Promise<void> {
    const batch = new MetadataBatch();
    putGone(batch, gone);
    await this.write(batch);
  }

  /** The tombstone of a version deleted by id, if this node holds one. */
  async getVersionGone(bucket: string, key: string, versionId: string): Promise<VersionGone | undefined> {
    const value = await this.db.get(goneKey({ bucket, key, versionId }));
    return value === undefined ? undefined : parse<VersionGone>(value);
  }

  /** Forgets a version tombstone (past its grace). */
  async dropVersionGone(gone: VersionGone): Promise<void> {
    await this.write(new MetadataBatch().del(goneKey(gone)).del(goneByKey(gone)));
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
    for await (const [key, value] of this.db.iterator(options)) rows.push({ ...parse<VersionGone>(value), hashHex: keyParts(key)[0] ?? '' });
    const truncated = rows.length > limit;
    if (truncated) rows.pop();
    return { rows, truncated };
  }

  /**
   * Up to `limit` version rows of the keys whose placement hash is in [fromHash, toHash), in hash order
   * and each key's versions newest first, after `after` (exclusive; null: from fromHash). Reads at
   * most limit + 1 version rows, however many versions a key has.
   */
  async versionPage(after: VersionCursor | null, limit: number, fromHash: bigint, toHash: bigint | null): Promise<{ rows: PartitionVersionRow[]; truncated: boolean }> {
    const rows: PartitionVersionRow[] = [];
    const take = async (entry: HashIndexEntry, afterVersionId: string | null): Promise<boolean> => {
      const prefix = Buffer.concat([rowKey(ROW.version, entry.bucket, entry.key), Buffer.of(0)]);
      const range = prefixRange(prefix);
      const options =
        afterVersionId === null
          ? { ...range, limit: limit + 1 - rows.length }
          : { gt: rowKey(ROW.version, entry.bucket, entry.key, newestFirst(afterVersionId)), lt: range.lt, limit: limit + 1 - rows.length };
      for await (const value of this.db.values(options)) rows.push({ ...entry, stored: parse<StoredObject>(value) });
      return rows.length > limit;
    };
    if (after !== null && (await take(after, after.versionId))) return { rows: rows.slice(0, limit), truncated: true };
    const indexRange = kindRange(ROW.hashIndex);
    const lt = toHash === null || toHash > 0xffff_ffff_ffff_ffffn ? indexRange.lt : rowKey(ROW.hashIndex, hex16(toHash));
    const options = after === null ? { gte: rowKey(ROW.hashIndex, hex16(fromHash)), lt } : { gt: rowKey(ROW.hashIndex, after.hashHex, after.bucket, after.key), lt };
    for await (const key of this.db.keys(options)) {
      const [hashHex = '', bucket = '', objectKey = ''] = keyParts(key);
      if (await take({ hashHex, bucket, key: objectKey }, null)) return { rows: rows.slice(0, limit), truncated: true };
    }
    return { rows, truncated: false };
  }

  /**
   * The versions of a key whose id is `oldestVersionId` or newer, newest first: those that can hold data
   * prepared under that id, since a version's id is taken at its commit, after its prepares.
   */
  async keyVersionsFrom(bucket: string, key: string, oldestVersionId: string): Promise<StoredObject[]> {
    const range = prefixRange(Buffer.concat([rowKey(ROW.version, bucket, key), Buffer.of(0)]));
    const versions: StoredObject[] = [];
    for await (const value of this.db.values({ gte: range.gte, lte: rowKey(ROW.version, bucket, key, newestFirst(oldestVersionId)) })) versions.push(parse<StoredObject>(value));
    return versions;
  }

  /** Up to `limit` versions of a key after `afterVersionId` (exclusive; null: from the newest), newest first. */
  async keyVersionsPage(bucket: string, key: string, afterVersionId: string | null, limit: number): Promise<StoredObject[]> {
    const range = prefixRange(Buffer.concat([rowKey(ROW.version, bucket, key), Buffer.of(0)]));
    const options = afterVersionId === null ? { ...range, limit } : { gt: rowKey(ROW.version, bucket, key, newestFirst(afterVersionId)), lt: range.lt, limit };
    const versions: StoredObject[] = [];
    for await (const value of this.db.values(options)) versions.push(parse<StoredObject>(value));
    return versions;
  }

  /**
   * Forgets a noncurrent version's row, shard data and quarantine row in one synced batch, leaving no
   * tombstone: rebalance, once the key's new set holds the version. The caller holds the key's lock and
   * removes the file afterwards.
   */
  async dropNoncurrent(stored: StoredObject): Promise<void> {
    const batch = new MetadataBatch();
    dropVersionRows(batch, stored);
    const ref = storedRef(stored);
    if (ref !== null) batch.del(rowKey(ROW.quarantine, ...shardParts(ref)));
    await this.write(batch);
  }

  /**
   * Version rows of a bucket in listing order (key ascending, newest first), for ListObjectVersions.
   * `afterVersionId` is the internal id to resume after within `query.after`.
   */
  async listVersions(query: VersionListQuery, afterVersionId: string | undefined): Promise<{ entries: VersionListRow[]; truncated: boolean }> {
    const base = rowKey(ROW.version, query.bucket, '');
    const rangeEnd = afterPrefix(Buffer.concat([base, Buffer.from(query.prefix, 'utf8')]));
    let options: { gt?: Buffer; gte?: Buffer; lt: Buffer };
    if (query.after === '' || byteOrder(query.after, query.prefix) < 0) {
      options = { gte: Buffer.concat([base, Buffer.from(query.prefix, 'utf8')]), lt: rangeEnd };
    } else if (query.afterIsPrefix) {
      options = { gte: afterPrefix(rowKey(ROW.version, query.bucket, query.after)), lt: rangeEnd };
    } else if (afterVersionId !== undefined) {
      options = { gt: rowKey(ROW.version, query.bucket, query.after, newestFirst(afterVersionId)), lt: rangeEnd };
    } else {
      // Past every version of `after`: its rows are `after 00 id`, all below `after 00 FF`.
      options = { gte: Buffer.concat([rowKey(ROW.version, query.bucket, query.after), Buffer.of(0, 0xff)]), lt: rangeEnd };
    }
    // Version rows and deleted-version rows share their key layout after the kind byte: read both
    // ranges and merge them, so a member that missed a delete is outvoted in the gateway's merge.
    const rows: { suffix: Buffer; row: VersionListRow }[] = [];
    for await (const [key, value] of this.db.iterator({ ...options, limit: query.limit + 1 })) rows.push({ suffix: key.subarray(1), row: parse<StoredObject>(value) });
    for await (const [key, value] of this.db.iterator({ ...swapKind(options, ROW.versionGoneByKey), limit: query.limit + 1 })) {
      rows.push({ suffix: key.subarray(1), row: { record: goneRecord(parse<VersionGone>(value)), shardIndex: null, shardSizeBytes: 0, file: null, gone: true } });
    }
    rows.sort((a, b) => Buffer.compare(a.suffix, b.suffix));
    const entries = rows.slice(0, query.limit + 1).map(({ row }) => row);
    const truncated = entries.length > query.limit;
    if (truncated) entries.pop();
    return { entries, truncated };
  }

  /** Rewrites the committed row of the same version (a metadata-only change such as tags); shard data is untouched. */
  async rewriteObject(stored: StoredObject): Promise<void> {
    const value = json(stored);
    await this.write(new MetadataBatch().put(rowKey(ROW.object, stored.record.bucket, stored.record.key), value).put(versionKey(stored.record), value));
  }

  /**
   * Points the rows that name a shard's image at its new place, in one synced batch with the registry
   * rows of both places (segment compaction). `current` is the key's current row when it names the
   * image; `versions` the version rows that do (the current version's own among them).
   */
  async relocateShard(ref: ShardRef, fromFile: string, toFile: string, current: StoredObject | undefined, versions: readonly StoredObject[]): Promise<void> {
    const batch = new MetadataBatch().del(rowKey(ROW.file, fromFile)).put(rowKey(ROW.file, toFile), json(ref));
    if (current !== undefined) batch.put(rowKey(ROW.object, current.record.bucket, current.record.key), json({ ...current, file: toFile }));
    for (const version of versions) batch.put(versionKey(version.record), json({ ...version, file: toFile }));
    await this.write(batch);
  }

  /** Rewrites a noncurrent version's row (its tags); shard data is untouched. */
  async rewriteVersion(stored: StoredObject): Promise<void> {
    await this.write(new MetadataBatch().put(versionKey(stored.record), json(stored)));
  }

  /** Every prepared row, for start-up recovery and garbage collection. */
  async *preparedShards(): AsyncGenerator<PreparedRow> {
    for await (const [key, value] of this.db.iterator(kindRange(ROW.prepared))) {
      yield { ...parse<PreparedShard>(value), ...refOf(keyParts(key)) };
    }
  }

  /** Registered files under one shard subdirectory, in name order, for start-up recovery. */
  async *filesUnder(directory: string): AsyncGenerator<{ file: string; ref: ShardRef }> {
    for await (const [key, value] of this.db.iterator(prefixRange(rowKey(ROW.file, `${directory}/`)))) {
      yield { file: keyParts(key)[0] ?? '', ref: parse<ShardRef>(value) };
    }
  }

  /** Drops the registry row of a file that no longer exists and that nothing committed points to. */
  async forgetFile(file: string): Promise<void> {
    await this.write(new MetadataBatch().del(rowKey(ROW.file, file)));
  }

  /**
   * Keys whose placement hash is in [fromHash, toHash), in hash order; toHash null means to the end.
   * One ring partition of B bits is the range [P << (64-B), (P+1) << (64-B)).
   */
  async *hashRange(fromHash: bigint, toHash: bigint | null): AsyncGenerator<HashIndexEntry> {
    const gte = rowKey(ROW.hashIndex, hex16(fromHash));
    const lt = toHash === null || toHash > 0xffff_ffff_ffff_ffffn ? afterPrefix(Buffer.from(ROW.hashIndex)) : rowKey(ROW.hashIndex, hex16(toHash));
    for await (const key of this.db.keys({ gte, lt })) {
      const [hashHex = '', bucket = '', objectKey = ''] = keyParts(key);
      yield { hashHex, bucket, key: objectKey };
    }
  }

  /** Keys of ring partition `partition` for a ring of `partitionBits` bits, in hash order. */
  partitionKeys(partition: number, partitionBits: number): AsyncGenerator<HashIndexEntry> {
    const { from, to } = partitionHashRange(partition, partitionBits);
    return this.hashRange(from, to);
  }

  /** Records a shard for repair; returns false when it was already quarantined. */
  async quarantine(entry: QuarantineEntry): Promise<boolean> {
    const key = rowKey(ROW.quarantine, ...shardParts(entry));
    if ((await this.db.get(key)) !== undefined) return false;
    await this.write(new MetadataBatch().put(key, json(entry)));
    return true;
  }

  /** Every quarantined shard, for the repair worker and tests. */
  async *quarantined(): AsyncGenerator<QuarantineEntry> {
    for await (const value of this.db.values(kindRange(ROW.quarantine))) yield parse<QuarantineEntry>(value);
  }

  /** Whether a shard is waiting for repair. */
  async isQuarantined(ref: ShardRef): Promise<boolean> {
    return (await this.db.get(rowKey(ROW.quarantine, ...shardParts(ref)))) !== undefined;
  }

  /** Removes a shard's quarantine row (it was repaired, or the version it named is gone); returns whether it existed. */
  async clearQuarantine(ref: ShardRef): Promise<boolean> {
    const key = rowKey(ROW.quarantine, ...shardParts(ref));
    if ((await this.db.get(key)) === undefined) return false;
    await this.write(new MetadataBatch().del(key));
    return true;
  }

  /**
   * Forgets a key's committed version in one synced batch (object and placement-index rows, its shard
   * data and quarantine row), for garbage collection and for rebalance once the new owners hold it.
   * The caller holds the key's lock, has checked the row is `stored`, and removes the file afterwards.
   */
  async dropObject(stored: StoredObject): Promise<void> {
    const { bucket, key } = stored.record;
    const batch = new MetadataBatch()
      .del(rowKey(ROW.object, bucket, key))
      .del(versionKey(stored.record))
      .del(rowKey(ROW.hashIndex, placementHashHex(bucket, key), bucket, key));
    const ref = storedRef(stored);
    if (ref !== null) {
      dropShardData(batch, ref, stored);
      batch.del(rowKey(ROW.quarantine, ...shardParts(ref)));
    }
    await this.write(batch);
  }

  /** Up to `limit` placement-index entries after `after` (exclusive; null starts at the beginning), in hash order. */
  async hashIndexPage(after: HashIndexEntry | null, limit: number, toHash: bigint | null = null): Promise<HashIndexEntry[]> {
    const range = kindRange(ROW.hashIndex);
    const lt = toHash === null || toHash > 0xffff_ffff_ffff_ffffn ? range.lt : rowKey(ROW.hashIndex, hex16(toHash));
    const options = after === null ? { gte: range.gte, lt, limit } : { gt: rowKey(ROW.hashIndex, after.hashHex, after.bucket, after.key), lt, limit };
    const entries: HashIndexEntry[] = [];
    for await (const key of this.db.keys(options)) {
      const [hashHex = '', bucket = '', objectKey = ''] = keyParts(key);
      entries.push({ hashHex, bucket, key: objectKey });
    }
    return entries;
  }

  /** Number of keys this node holds (placement-index rows), for progress estimates. */
  async countKeys(): Promise<number> {
    let count = 0;
    for await (const _ of this.db.keys(kindRange(ROW.hashIndex))) count += 1;
    return count;
  }

  /** A background worker's persisted cursor; null when it has none. */
  async loadCursor(name: string): Promise<string | null> {
    const value = await this.db.get(rowKey(ROW.node, `cursor/${name}`));
    return value === undefined ? null : value.toString('utf8');
  }

  /** Persists (or, with null, clears) a background worker's cursor. */
  async saveCursor(name: string, cursor: string | null): Promise<void> {
    const key = rowKey(ROW.node, `cursor/${name}`);
    await this.write(cursor === null ? new MetadataBatch().del(key) : new MetadataBatch().put(key, Buffer.from(cursor, 'utf8')));
  }

  /** Rows of a bucket's object index in byte order, for listing. Tombstones are included: newer ones hide older live versions elsewhere. */
  async listObjects(query: ListQuery): Promise<{ entries: StoredObject[]; truncated: boolean }> {
    const base = rowKey(ROW.object, query.bucket, '');
    const rangeEnd = afterPrefix(Buffer.concat([base, Buffer.from(query.prefix, 'utf8')]));
    const start = byteOrder(query.after, query.prefix) > 0 ? query.after : query.prefix;
    const startKey = Buffer.concat([base, Buffer.from(start, 'utf8')]);
    const options =
      query.afterIsPrefix && query.after !== ''
        ? { gte: afterPrefix(startKey), lt: rangeEnd }
        : start === query.after && query.after !== ''
          ? { gt: startKey, lt: rangeEnd }
          : { gte: startKey, lt: rangeEnd };
    const entries: StoredObject[] = [];
    for await (const value of this.db.values({ ...options, limit: query.limit + 1 })) entries.push(parse<StoredObject>(value));
    const truncated = entries.length > query.limit;
    if (truncated) entries.pop();
    return { entries, truncated };
  }

  /** True when the bucket has at least one live (non-tombstone) object on this node. */
  async bucketHasObjects(bucket: string): Promise<boolean> {
    for await (const value of this.db.values(prefixRange(rowKey(ROW.object, bucket, '')))) {
      if (!parse<StoredObject>(value).record.deleted) return true;
    }
    return false;
  }

  /** Stores a bucket record unless the node already holds a newer one; answers the record it holds now. */
  async putBucket(record: BucketRecord): Promise<BucketRecord> {
    const key = rowKey(ROW.bucket, record.name);
    const current = await this.db.get(key);
    if (current !== undefined) {
      const held = parse<BucketRecord>(current);
      if (compareVersionIds(held.versionId, record.versionId) >= 0) return held;
    }
    await this.write(new MetadataBatch().put(key, json(record)));
    return record;
  }

  /** The bucket record this node holds for `name` (a tombstone when deleted), if any. */
  async getBucket(name: string): Promise<BucketRecord | undefined> {
    const value = await this.db.get(rowKey(ROW.bucket, name));
    return value === undefined ? undefined : parse<BucketRecord>(value);
  }

  /** Every bucket record, tombstones included. */
  async listBuckets(): Promise<BucketRecord[]> {
    const records: BucketRecord[] = [];
    for await (const value of this.db.values(kindRange(ROW.bucket))) records.push(parse<BucketRecord>(value));
    return records;
  }

  /** Stores a user record if it is newer than the one held. */
  async putUser(record: UserRecord): Promise<void> {
    const key = rowKey(ROW.user, record.name);
    const current = await this.db.get(key);
    if (current !== undefined && compareVersionIds(parse<UserRecord>(current).versionId, record.versionId) >= 0) return;
    await this.write(new MetadataBatch().put(key, json(record)));
  }

  /** Every user record, removed users included. */
  async listUsers(): Promise<UserRecord[]> {
    const records: UserRecord[] = [];
    for await (const value of this.db.values(kindRange(ROW.user))) records.push(parse<UserRecord>(value));
    return records;
  }

  /** Every committed object row, for start-up accounting. */
  async *objects(): AsyncGenerator<StoredObject> {
    for await (const value of this.db.values(kindRange(ROW.object))) yield parse<StoredObject>(value);
  }

  /**
   * One LevelDB write of a group. A chained batch, not db.batch(array): measured with classic-level 3,
   * the array form costs about twice the main-thread time per operation (it clones and re-reads every
   * operation object), and a group is dozens of operations.
   */
  private async writeBatch(ops: readonly MetadataOp[], sync: boolean): Promise<void> {
    const batch = this.db.batch();
    try {
      for (const op of ops) {
        if (op.type === 'put') batch.put(op.key, op.value);
        else batch.del(op.key);
      }
    } catch (err) {
      await batch.close();
      throw err;
    }
    const cached = this.rows.writeStarting(ops);
    try {
      await batch.write({ sync });
    } catch (err) {
      this.rows.writeEnded(ops, cached, false);
      throw err;
    }
    this.rows.writeEnded(ops, cached, true);
    this.writeObserver?.(ops, sync);
  }

  /**
   * Every write is synced: an acknowledged prepare, commit or bucket change survives a crash. Writes go
   * through one group-commit writer (group-commit.ts): concurrent batches share one synced LevelDB
   * write, applied in submission order, and each caller's promise settles with its group's write.
   *
   * After one write fails (a full disk, an I/O error) the database refuses every later write until the
   * node restarts, and a write that was already queued behind the failed one is refused without being
   * written. LevelDB keeps accepting writes after a failed log append, but that append may have left a
   * torn record in its log, and on reopening, recovery drops what follows a torn record: writes
   * acknowledged after it would be lost. Reads go on; the node reports itself degraded.
   */
  private write(batch: MetadataBatch): Promise<void> {
    return this.writer.write(batch);
  }
}

/** The version row of a record. */
function versionKey(record: ObjectRecord): Buffer {
  return rowKey(ROW.version, record.bucket, record.key, newestFirst(record.versionId));
}

/** Writes both rows of a version tombstone. */
function putGone(batch: MetadataBatch, gone: VersionGone): void {
  const value = json(gone);
  batch.put(goneKey(gone), value).put(goneByKey(gone), value);
}

/** The listing-order row of a version tombstone. */
function goneByKey(gone: { bucket: string; key: string; versionId: string }): Buffer {
  return rowKey(ROW.versionGoneByKey, gone.bucket, gone.key, newestFirst(gone.versionId));
}

/** The same range bounds over another row kind (rows whose keys match after the kind byte). */
function swapKind(options: { gt?: Buffer; gte?: Buffer; lt: Buffer }, kind: string): { gt?: Buffer; gte?: Buffer; lt: Buffer } {
  const swap = (key: Buffer): Buffer => Buffer.concat([Buffer.from(kind, 'latin1'), key.subarray(1)]);
  return {
    ...(options.gt === undefined ? {} : { gt: swap(options.gt) }),
    ...(options.gte === undefined ? {} : { gte: swap(options.gte) }),
    lt: swap(options.lt),
  };
}

/**
 * A stand-in record of a version deleted by id, for listings and lookups that must say "deleted": no
 * data, no shard; readers drop it and every copy of the version it names.
 */
export function goneRecord(gone: VersionGone): ObjectRecord {
  const { bucket, key, versionId } = gone;
  return { bucket, key, versionId, deleted: true, sizeBytes: 0, etag: '""', lastModifiedMs: gone.deletedMs, contentType: '', userMetadata: {}, headers: {}, checksums: {}, erasure: { dataShards: 1, parityShards: 0, blockSizeBytes: 1 }, versioning: 'Enabled' };
}

/** The tombstone row of a version deleted by id. */
function goneKey(gone: { bucket: string; key: string; versionId: string }): Buffer {
  return rowKey(ROW.versionGone, placementHashHex(gone.bucket, gone.key), gone.bucket, gone.key, gone.versionId);
}

/** Drops a version's row and its shard data from `batch` (a quarantine row left behind is cleared by repair, which finds the version gone). */
function dropVersionRows(batch: MetadataBatch, stored: StoredObject): void {
  batch.del(versionKey(stored.record));
  const ref = storedRef(stored);
  if (ref !== null) dropShardData(batch, ref, stored);
}

/**
 * Puts into a commit's batch, first so that any delete in it wins, the rows the committed shard needs
 * besides its version rows: its file's registry row, or its inline image when the caller read it with
 * the prepared row. The prepare wrote them unsynced, counting on the commit's sync; but LevelDB syncs
 * only its current log, and one it switched away from (its memtable full) stays unsynced until that
 * memtable is flushed. A power cut in between could keep the commit and lose the prepare: start-up
 * recovery would then remove the file as an orphan, or the inline shard would be gone.
 */
function carryShardRows(batch: MetadataBatch, stored: StoredObject, image: Buffer | undefined): MetadataBatch {
  const ref = storedRef(stored);
  if (ref === null) return batch;
  if (stored.file !== null) batch.put(rowKey(ROW.file, stored.file), json(ref));
  if (stored.inline === true && image !== undefined) batch.put(rowKey(ROW.inline, ...shardParts(ref)), image);
  return batch;
}

function dropShardData(batch: MetadataBatch, ref: ShardRef, holder: { file: string | null; inline?: boolean }): void {
  if (holder.inline === true) batch.del(rowKey(ROW.inline, ...shardParts(ref)));
  if (holder.file !== null) batch.del(rowKey(ROW.file, holder.file));
}

function refFromRow(row: PreparedRow): ShardRef {
  return { bucket: row.bucket, key: row.key, versionId: row.versionId, shardIndex: row.shardIndex };
}

/**
 * Compares two names in UTF-8 byte order, the index's order. JavaScript's `<` compares UTF-16 code
 * units, which sort U+E000..U+FFFF after the surrogates of characters above U+FFFF.
 */
function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function hex16(value: bigint): string {
  return value.toString(16).padStart(16, '0');
}

/** Converts a stored row to the wire answer of GET /v1/objects. */
export function toObjectStatus(stored: StoredObject): ObjectStatus {
  return { record: stored.record, shardIndex: stored.shardIndex, shardSizeBytes: stored.shardSizeBytes };
}
