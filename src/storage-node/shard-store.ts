import { open, readdir, rm, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { DEFAULTS, compareVersionIds, type Logger } from '../common/index.js';
import { lockHold, shardDataId, shardRefOf, type BucketRecord, type CommitRequest, type ErasureParams, type ListQuery, type ObjectRecord, type ResealRequest, type ShardRef, type TagUpdateRequest, type VersionListQuery } from '../rpc/index.js';
import { BucketIncarnations } from './bucket-incarnations.js';
import type { BlockHasher } from './checksum.js';
import { DIRECT_READ_FLAGS, DirectBuffers, DirectReadSource } from './direct-io.js';
import { KeyedMutex } from './keyed-mutex.js';
import { MetadataStore, storedRef, type PreparedShard, type QuarantineReason, type StoredObject, type VersionGone, type VersionListRow } from './metadata-store.js';
import { ShardCorruptError, bufferSource, readShardHeader, readShardHeaderAhead, readShardRange, type ChunkMemory, type PositionalSource, type ShardHeader } from './shard-file.js';
import { emptyDirectory, recoverStore, type RecoveryReport } from './shard-recovery.js';
import { SegmentLog } from './segment-log.js';
import { segmentPlaceName, segmentPlaceOf, segmentPlacePrefix, shardFilePath } from './shard-paths.js';
import { ShardStoreError, isIoError, isNoSpace } from './shard-store-error.js';
import { DEFAULT_READ_AHEAD_BUDGET_BYTES, ShardWriter, type PrepareOptions } from './shard-writer.js';
import { SpaceLedger, type SpaceClaim } from './space-ledger.js';

export { ShardStoreError, type ShardStoreErrorCode } from './shard-store-error.js';
export { shardFileName } from './shard-paths.js';

/**
 * Largest shard kept inline in LevelDB rather than in a file: 32 KiB of shard, a 128 KiB object at
 * 4+2 (64 KiB at 2+1, 256 KiB at 8+4). Measured with `npm run bench:shard` (fsync on, 16 writes in
 * flight): inline writes are 1.5-6x the file path's up to 32 KiB (a share of a group-committed
 * LevelDB sync instead of file fsync + rename + directory fsync + that share) and reads are faster
 * too; at 64-128 KiB the two are about even, and at 256 KiB inline loses on writes (0.4-0.5x) and
 * reads, because LevelDB writes every byte again at each flush and compaction and a ranged read must
 * load the whole value. The threshold is per shard, not per object, because that is what the node writes.
 */
export const DEFAULT_INLINE_MAX_SHARD_BYTES = 32 * 1024;
/**
 * Largest shard appended to a segment rather than written to a file of its own: 1 MiB, an object of up
 * to 4 MiB at 4+2. Measured with `npx tsx bench/segment-vs-files.ts` (docs/shard-packing.md): a 256 KiB
 * shard appended with a shared fdatasync costs 0.28x the CPU of a file of its own. The prepare holds a
 * segment shard in memory until it ends, so the threshold also bounds what each write may buffer.
 */
export const DEFAULT_SEGMENT_MAX_SHARD_BYTES = 1024 * 1024;
/** The largest segment shard threshold a store takes: 64 MiB, far above any useful one, far below what a place can name. */
export const MAX_SEGMENT_SHARD_BYTES = 64 * 1024 * 1024;
/** How old a prepared, uncommitted shard must be before recovery drops it: far longer than any prepare-to-commit gap. */
export const DEFAULT_PREPARED_GRACE_MS = 15 * 60 * 1000;

/** Construction parameters of a shard store. */
export interface ShardStoreOptions {
  dataDir: string;
  hash: BlockHasher;
  logger: Logger;
  /** Refuse new shards when the disk has less than this free (a full disk must fail cleanly). */
  reserveBytes?: number;
  /** Total shard bytes this node may hold; unlimited when absent. */
  capacityBytes?: number;
  /** Shards up to this size live in LevelDB, larger ones in segments or files; 0 keeps none inline. */
  inlineMaxShardBytes?: number;
  /** Shards above the inline threshold and up to this size are appended to segments; 0 keeps them in files. */
  segmentMaxShardBytes?: number;
  /** A segment takes appends until it holds this much (DEFAULT_SEGMENT_MAX_BYTES). */
  segmentSizeBytes?: number;
  /** Memory all prepares together may hold while deciding whether a shard fits a segment (shard-writer.ts). */
  readAheadBudgetBytes?: number;
  /** Prepared shards older than this are dropped at start-up. */
  preparedGraceMs?: number;
  /** Memory for metadata rows that reads answer from without LevelDB (DEFAULTS.rowCacheBytes); 0 keeps none. */
  rowCacheBytes?: number | undefined;
  /** LevelDB's write buffer (DEFAULTS.metadataWriteBufferBytes). */
  metadataWriteBufferBytes?: number | undefined;
  /** False skips every fsync (files, directories, LevelDB): for benchmarks only, never for data that matters. */
  fsync?: boolean;
  /** Memory for reading and writing shard files past the page cache (DEFAULTS.directIoMemoryBytes, direct-io.ts); 0 keeps them in it. */
  directIoMemoryBytes?: number;
  clock?: () => number;
}

/** A sealed segment and how much of it registered images hold. */
export interface SegmentUsage {
  segment: number;
  sizeBytes: number;
  liveBytes: number;
}

/** What compacting one segment did. */
export interface CompactionResult {
  /** Images copied to the open segment, and their bytes. */
  moved: number;
  movedBytes: number;
  /** Whether the segment was removed (no registered image left in it). */
  removed: boolean;
  /** The segment's size when it was removed, else 0. */
  freedBytes: number;
}

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
 */
export class ShardStore {
  readonly metadata: MetadataStore;
  private readonly dataDir: string;
  private readonly shardDir: string;
  private readonly tmpDir: string;
  private readonly hash: BlockHasher;
  private readonly logger: Logger;
  private readonly preparedGraceMs: number;
  private readonly fsync: boolean;
  private readonly clock: () => number;
  private readonly space: SpaceLedger;
  private readonly writer: ShardWriter;
  private readonly segments: SegmentLog;
  /** Buffers for shard files read and written past the page cache: handed out once open() found that this file system takes that. */
  private readonly direct: DirectBuffers;
  /** Free space kept for LevelDB and recovery: client writes and compaction leave it alone. */
  private readonly reserveBytes: number;
  private readonly keyLocks = new KeyedMutex();
  private readonly incarnations: BucketIncarnations;
  /** Serialises quarantining per shard: two readers that find one bad shard at once must count it once. */
  private readonly quarantineLocks = new KeyedMutex();
  private readonly inFlight = new Set<Promise<unknown>>();
  /** Prepares running now, by the shard they write (shardKey): an abort of that shard waits for them. */
  private readonly preparing = new Map<string, Set<Promise<unknown>>>();
  private checksumFailureCount = 0;
  private quarantineCount = 0;
  private noSpaceCount = 0;
  private ioErrorCount = 0;
  private recovery: RecoveryReport | null = null;

  constructor(options: ShardStoreOptions) {
    const segmentMaxShardBytes = options.segmentMaxShardBytes ?? DEFAULT_SEGMENT_MAX_SHARD_BYTES;
    // A place names its length in eight hex digits, and a prepare holds a segment shard in memory.
    if (!Number.isSafeInteger(segmentMaxShardBytes) || segmentMaxShardBytes < 0 || segmentMaxShardBytes > MAX_SEGMENT_SHARD_BYTES) {
      throw new RangeError(`segmentMaxShardBytes must be 0 to ${MAX_SEGMENT_SHARD_BYTES}, not ${segmentMaxShardBytes}`);
    }
    if (options.segmentSizeBytes !== undefined && !(Number.isSafeInteger(options.segmentSizeBytes) && options.segmentSizeBytes > 0)) {
      throw new RangeError(`segmentSizeBytes must be a positive integer, not ${options.segmentSizeBytes}`);
    }
    this.dataDir = options.dataDir;
    this.shardDir = join(options.dataDir, 'shards');
    this.tmpDir = join(options.dataDir, 'tmp');
    this.hash = options.hash;
    this.logger = options.logger;
    this.preparedGraceMs = options.preparedGraceMs ?? DEFAULT_PREPARED_GRACE_MS;
    this.fsync = options.fsync ?? true;
    this.clock = options.clock ?? Date.now;
    // The reserve keeps room for LevelDB and recovery: a node whose disk filled up entirely could not even reopen its database.
    this.reserveBytes = options.reserveBytes ?? 0;
    this.space = new SpaceLedger(options.capacityBytes ?? null, {
      reserveBytes: this.reserveBytes,
      readFreeBytes: () => this.freeBytes(),
      clock: () => performance.now(),
    });
    this.metadata = new MetadataStore(join(options.dataDir, 'meta'), {
      sync: this.fsync,
      rowCacheBytes: options.rowCacheBytes,
      writeBufferBytes: options.metadataWriteBufferBytes,
    });
    this.incarnations = new BucketIncarnations((name) => this.metadata.getBucket(name));
    this.direct = new DirectBuffers(options.directIoMemoryBytes ?? DEFAULTS.directIoMemoryBytes);
    this.segments = new SegmentLog({
      dir: join(options.dataDir, 'segments'),
      fsync: this.fsync,
      direct: this.direct,
      ...(options.segmentSizeBytes === undefined ? {} : { maxSegmentBytes: options.segmentSizeBytes }),
    });
    this.writer = new ShardWriter({
      segments: this.segments,
      segmentMaxShardBytes,
      readAheadBudgetBytes: options.readAheadBudgetBytes ?? DEFAULT_READ_AHEAD_BUDGET_BYTES,
      metadata: this.metadata,
      hash: this.hash,
      shardDir: this.shardDir,
      tmpDir: this.tmpDir,
      inlineMaxShardBytes: options.inlineMaxShardBytes ?? DEFAULT_INLINE_MAX_SHARD_BYTES,
      fsync: this.fsync,
      direct: this.direct,
      clock: this.clock,
      // Commits hold the key's lock: a prepare decides and installs under it too, so none slips in between.
      committed: { underKeyLock: (ref, work) => this.keyLocks.run(lockKey(ref.bucket, ref.key), work), isCommitted: (ref) => this.isCommitted(ref), isQuarantined: (ref) => this.metadata.isQuarantined(ref) },
    });
  }

  /** Opens LevelDB and recovers from a crash before anything is served (no write can be in flight yet). */
  async open(): Promise<RecoveryReport> {
    let tmpFilesRemoved = 0;
    try {
      await this.metadata.open();
    } catch (err) {
      // On a full disk, what interrupted writes left in tmp/ may be the room LevelDB needs to open. Only
      // after an open that failed for space: a second process on this directory fails on LevelDB's lock.
      if (!isNoSpace(err) && !isNoSpace((err as Error).cause)) throw err;
      tmpFilesRemoved = await emptyDirectory(this.tmpDir);
      if (tmpFilesRemoved === 0) throw err;
      await this.metadata.open();
    }
    tmpFilesRemoved += await emptyDirectory(this.tmpDir);
    await this.direct.probe(this.tmpDir);
    await this.segments.open();
    this.recovery = await recoverStore({
      segments: this.segments,
      tmpFilesRemoved,
      metadata: this.metadata,
      shardDir: this.shardDir,
      fsync: this.fsync,
      clock: this.clock,
      preparedGraceMs: this.preparedGraceMs,
      countUsage: this.space.limitBytes !== null,
      dropPrepared: (ref, prepared) => this.dropPrepared(ref, prepared),
      logger: this.logger,
    });
    this.space.reset(this.recovery.usedBytes);
    this.quarantineCount = this.recovery.quarantinedShards;
    return this.recovery;
  }

  /** Whether shard files are read and written past the page cache (direct-io.ts): known once open() has run. */
  get directIo(): boolean {
    return this.direct.enabled;
  }

  /** Closes LevelDB. */
  async close(): Promise<void> {
    // A write whose client went away still runs; closing LevelDB under it would strand its renamed
    // file without a row (an orphan for the next start-up), so wait for the writes in flight.
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
    await this.segments.close();
    await this.metadata.close();
  }

  /** Counts a mutation as in flight until it settles, so close() can wait for it. */
  private track<T>(work: Promise<T>): Promise<T> {
    this.inFlight.add(work);
    const forget = (): void => {
      this.inFlight.delete(work);
    };
    work.then(forget, forget);
    return work;
  }

  /** Where shard files and temporary files live, for the garbage collector's sweep of files no row points to. */
  get directories(): { shardDir: string; tmpDir: string } {
    return { shardDir: this.shardDir, tmpDir: this.tmpDir };
  }

  /** Whether a shard write in progress owns `path` (a temporary file, or a shard file not yet recorded): never garbage. */
  isWriting(path: string): boolean {
    return this.writer.isWriting(path);
  }

  /** Shards being prepared now, of every kind (a write under way on this node). */
  get writesInFlight(): number {
    return this.writer.writesInFlight;
  }

  /** Checksum mismatches seen on reads since start. */
  get checksumFailures(): number {
    return this.checksumFailureCount;
  }

  /** Counters for the health report. */
  get stats(): ShardStoreStats {
    return {
      checksumFailures: this.checksumFailureCount,
      quarantinedShards: this.quarantineCount,
      noSpaceRefusals: this.noSpaceCount,
      ioErrors: this.ioErrorCount + this.metadata.writeFailures,
      capacityBytes: this.space.limitBytes,
      usedBytes: this.space.limitBytes === null ? null : this.space.usedBytes,
      lastRecovery: this.recovery,
    };
  }

  /** Rows and bytes the metadata's row cache holds now. */
  get cachedRows(): { rows: number; bytes: number } {
    return this.metadata.cachedRows;
  }

  /** Free bytes on the data directory's file system. */
  async freeBytes(): Promise<number> {
    const stats = await statfs(this.dataDir);
    return stats.bavail * stats.bsize;
  }

  /**
   * Stores a streamed shard durably but invisibly; returns its size. Shards up to the inline threshold
   * become one LevelDB write; larger ones stream to a file (shard-writer.ts). A body already in memory
   * (a batched prepare's) may come as one Buffer.
   */
  prepare(ref: ShardRef, erasure: ErasureParams, body: Readable | Buffer, signal?: AbortSignal, options: PrepareOptions = {}): Promise<number> {
    const work = this.track(this.prepareNow(ref, erasure, body, signal, options));
    const key = shardKey(ref);
    const running = this.preparing.get(key) ?? new Set<Promise<unknown>>();
    this.preparing.set(key, running.add(work));
    const forget = (): void => {
      running.delete(work);
      if (running.size === 0 && this.preparing.get(key) === running) this.preparing.delete(key);
    };
    work.then(forget, forget);
    return work;
  }

  /** The untracked body of prepare. */
  private async prepareNow(ref: ShardRef, erasure: ErasureParams, body: Readable | Buffer, signal: AbortSignal | undefined, options: PrepareOptions): Promise<number> {
    let claim: SpaceClaim | undefined;
    try {
      claim = await this.space.claim();
      const sizeBytes = await this.writer.prepare(ref, erasure, body, claim, signal, options);
      claim.settle(true);
      return sizeBytes;
    } catch (err) {
      claim?.settle(false);
      throw this.classifyWriteError(err);
    }
  }

  /**
   * Makes a version visible. Last writer wins: when the node already holds a newer version the commit
   * is acknowledged and the older shard dropped, since the newer version hides it anyway.
   */
  commit(request: CommitRequest): Promise<void> {
    const { bucket, bucketCreatedMs } = request.record;
    // A version that names its bucket's incarnation commits only while that incarnation is open here.
    if (bucketCreatedMs !== undefined) return this.track(this.incarnations.admit(bucket, bucketCreatedMs, () => this.commitNow(request)));
    return this.track(this.commitNow(request));
  }

  /** The untracked body of commit. */
  private async commitNow(request: CommitRequest): Promise<void> {
    const { record, shardIndex } = request;
    await this.keyLocks.run(lockKey(record.bucket, record.key), async () => {
      // The prepared shard is found by the id it was written under (the record's dataId).
      const ref = shardIndex === null ? null : shardRefOf(record, shardIndex);
      const { stored: current, prepared, image } =
        ref === null ? { stored: await this.metadata.getObject(record.bucket, record.key), prepared: undefined, image: undefined } : await this.metadata.getObjectAndPrepared(ref);
      if (ref !== null && prepared === undefined) {
        // A repeated commit of what is already visible is a success: commits are retried.
        if (current?.record.versionId === record.versionId) return;
        // So is one of a version kept as a row, a pre-versioning null version (no `versioning`) included.
        if ((await this.metadata.getVersion(record.bucket, record.key, record.versionId)) !== undefined) return;
        throw new ShardStoreError('NotFound', 'no prepared shard for this version');
      }
      // Not gated on `versioning`: a pre-versioning null version has none, yet is kept as a version row
      // once a versioned write lands, and commitVersioned would drop that row as "the previous null".
      if (request.repair === true && ref !== null && prepared !== undefined && current?.record.versionId !== record.versionId) {
        const kept = await this.metadata.getVersion(record.bucket, record.key, record.versionId);
        if (kept !== undefined && kept.shardIndex === shardIndex) {
          // A repair rebuilt a noncurrent version's shard in place: its version row takes the new shard.
          const repaired: StoredObject = { ...kept, shardSizeBytes: prepared.shardSizeBytes, file: prepared.file, ...(prepared.inline === true ? { inline: true } : {}) };
          if (prepared.inline !== true) delete repaired.inline;
          await this.metadata.commitNoncurrent(repaired, { image });
          this.space.release(kept.shardSizeBytes);
          if (await this.metadata.clearQuarantine(ref)) this.quarantineCount = Math.max(0, this.quarantineCount - 1);
          if (kept.file !== prepared.file) await this.dropReplacedData(kept.file);
          return;
        }
      }
      if (request.repair === true && ref !== null && prepared !== undefined && current?.record.versionId === record.versionId && current.shardIndex === shardIndex) {
        // A repair rewrote this version's shard in place (same file name or inline row): make it the committed one.
        const repaired: StoredObject = { ...current, shardSizeBytes: prepared.shardSizeBytes, file: prepared.file, ...(prepared.inline === true ? { inline: true } : {}) };
        if (prepared.inline !== true) delete repaired.inline;
        await this.metadata.commitObject(repaired, undefined, { image });
        this.space.release(current.shardSizeBytes);
        if (await this.metadata.clearQuarantine(ref)) this.quarantineCount = Math.max(0, this.quarantineCount - 1);
        if (current.file !== prepared.file) await this.dropReplacedData(current.file);
        return;
      }
      const incoming: StoredObject =
        ref === null || prepared === undefined
          ? { record, shardIndex: null, shardSizeBytes: 0, file: null }
          : { record, shardIndex, shardSizeBytes: prepared.shardSizeBytes, file: prepared.file, ...(prepared.inline === true ? { inline: true } : {}) };
      // A bucket never goes back to "never versioned": a write without versioning over a version written
      // under it comes from a gateway whose bucket record is stale, and is kept as the null version
      // rather than allowed to destroy the version it would replace.
      if (record.versioning !== undefined || current?.record.versioning !== undefined) {
        await this.commitVersioned(incoming, current, ref, prepared, image);
        return;
      }
      if (current !== undefined && compareVersionIds(current.record.versionId, record.versionId) >= 0) {
        if (ref !== null && prepared !== undefined) await this.dropPrepared(ref, prepared, current);
        return;
      }
      await this.metadata.commitObject(incoming, current, { image });
      if (current !== undefined) {
        this.space.release(current.shardSizeBytes);
        await this.removeFile(current.file);
      }
    });
  }

  /**
   * Commits a version written under bucket versioning (S3's rules): every version is kept, whichever
   * order commits arrive in, except that a `null` version (written while versioning is suspended)
   * replaces the key's previous null version. A commit older than the current version becomes a
   * noncurrent one. The caller holds the key's lock.
   */
  private async commitVersioned(
    incoming: StoredObject,
    current: StoredObject | undefined,
    ref: ShardRef | null,
    prepared: PreparedShard | undefined,
    image: Buffer | undefined,
  ): Promise<void> {
    const { record } = incoming;
    if (current !== undefined && current.record.versionId === record.versionId) {
      if (ref !== null && prepared !== undefined) await this.dropPrepared(ref, prepared, current);
      return;
    }
    if ((await this.metadata.getVersionGone(record.bucket, record.key, record.versionId)) !== undefined) {
      // Deleted by id (perhaps while the writer or a repair source did not know): acknowledged and
      // dropped, as a commit hidden by a newer version is, so the delete stays final.
      if (ref !== null && prepared !== undefined) await this.dropPrepared(ref, prepared, current ?? null);
      return;
    }
    let dropped: StoredObject[] = [];
    if (isNullVersion(record)) {
      const versions = await this.metadata.keyVersions(record.bucket, record.key);
      if (current !== undefined && !versions.some((v) => v.record.versionId === current.record.versionId)) versions.push(current);
      const nulls = versions.filter((v) => isNullVersion(v.record));
      if (nulls.some((v) => compareVersionIds(v.record.versionId, record.versionId) > 0)) {
        // A newer null version already replaced this one.
        if (ref !== null && prepared !== undefined) await this.dropPrepared(ref, prepared, current ?? null);
        return;
      }
      // This very version kept as a row (a commit retried or copied again) is not a previous one: its rows
      // share the incoming row's keys, so dropping it would delete what this commit writes.
      dropped = nulls.filter((v) => v.record.versionId !== record.versionId);
    }
    const newer = current === undefined || compareVersionIds(current.record.versionId, record.versionId) < 0;
    if (newer) {
      const keepPrevious = current !== undefined && !dropped.some((v) => v.record.versionId === current.record.versionId);
      await this.metadata.commitObject(incoming, current, { keepPrevious, dropped: dropped.filter((v) => v.record.versionId !== current?.record.versionId), image });
      if (current !== undefined && !keepPrevious) {
        this.space.release(current.shardSizeBytes);
        await this.removeFile(current.file);
      }
    } else {
      await this.metadata.commitNoncurrent(incoming, { dropped, image });
    }
    for (const old of dropped) {
      if (newer && old.record.versionId === current?.record.versionId) continue;
      this.space.release(old.shardSizeBytes);
      await this.removeFile(old.file);
    }
  }

  /**
   * Removes one version of a key for good (S3's DELETE with a versionId): when it is the current one,
   * the next newest becomes current. Answers the removed record, or null when the node does not hold it.
   * A version under Object Lock (a legal hold, or retention not yet over: GOVERNANCE unless
   * `bypassGovernance`) is refused with Locked, whatever asked: the gateway checks first, this holds
   * even for a caller that did not.
   */
  deleteVersion(bucket: string, key: string, versionId: string, options: { bypassGovernance?: boolean | undefined } = {}): Promise<ObjectRecord | null> {
    return this.track(
      this.keyLocks.run(lockKey(bucket, key), async () => {
        const current = await this.metadata.getObject(bucket, key);
        const target = await this.metadata.getVersion(bucket, key, versionId);
        const gone: VersionGone = { bucket, key, versionId, deletedMs: this.clock(), ...(options.bypassGovernance === true ? { bypassGovernance: true } : {}) };
        if (target === undefined) {
          // Not held here (this node missed the write, or a repair has yet to bring it): the tombstone
          // still keeps a later commit of it from bringing it back. `null` itself is no version's id.
          if (versionId !== 'null' && (await this.metadata.getVersionGone(bucket, key, versionId)) === undefined) await this.metadata.putVersionGone(gone);
          return null;
        }
        const hold = lockHold(target.record, this.clock(), options.bypassGovernance === true);
        if (hold !== null) throw new ShardStoreError('Locked', `this version is protected by Object Lock (${hold})`);
        const isCurrent = current?.record.versionId === versionId;
        const promote = isCurrent ? (await this.metadata.keyVersions(bucket, key)).find((v) => v.record.versionId !== versionId) : undefined;
        // The tombstone whatever the target's `versioning`: a pre-versioning null version deleted by id
        // (DELETE ?versionId=null, a lifecycle expiry) would otherwise come back from a holder that was
        // away, as the audit copies what it finds. Nodes that did not hold it write one too, and the
        // collector drops every tombstone after its grace (gc-worker.ts), versioned or not.
        await this.metadata.deleteVersion(target, isCurrent, promote, gone);
        this.space.release(target.shardSizeBytes);
        await this.removeFile(target.file);
        return target.record;
      }),
    );
  }

  /** One version of a key by id; `null` names the key's null version. */
  async versionStatus(bucket: string, key: string, versionId: string): Promise<StoredObject | undefined> {
    if (versionId !== 'null') return this.metadata.getVersion(bucket, key, versionId);
    const versions = await this.metadata.keyVersions(bucket, key);
    const current = await this.metadata.getObject(bucket, key);
    if (current !== undefined && !versions.some((v) => v.record.versionId === current.record.versionId)) versions.unshift(current);
    return versions.find((v) => isNullVersion(v.record));
  }

  /** Version listing rows for a bucket; an `afterVersion` of `null` resumes after the marker key's null version. */
  async listVersions(query: VersionListQuery): Promise<{ entries: VersionListRow[]; truncated: boolean }> {
    let afterVersionId = query.afterVersion;
    if (afterVersionId === 'null') afterVersionId = (await this.versionStatus(query.bucket, query.after, 'null'))?.record.versionId;
    return this.metadata.listVersions(query, afterVersionId);
  }

  /**
   * Replaces the tags of the current version in place: only the metadata row changes, never the data.
   * NotFound when the node's current version is another one (it missed that write, or a newer one won);
   * an older or repeated revision is acknowledged and ignored, so retries and reordering are harmless.
   */
  updateTags(request: TagUpdateRequest): Promise<void> {
    return this.track(this.updateTagsNow(request));
  }

  /** The untracked body of updateTags. */
  private async updateTagsNow(request: TagUpdateRequest): Promise<void> {
    await this.keyLocks.run(lockKey(request.bucket, request.key), async () => {
      const current = await this.metadata.getObject(request.bucket, request.key);
      // A versioned bucket's older versions keep tags of their own; outside versioning only the current version has any.
      const version = current?.record.versionId === request.versionId ? current : await this.metadata.getVersion(request.bucket, request.key, request.versionId);
      if (version === undefined || version.record.deleted || (version !== current && version.record.versioning === undefined)) {
        throw new ShardStoreError('NotFound', 'this node does not hold this version');
      }
      if (compareVersionIds(version.record.tagsRevision ?? '', request.tagsRevision) >= 0) return;
      const grants = request.grants === undefined ? {} : { grants: request.grants };
      const legalHold = request.legalHold === undefined ? {} : { legalHold: request.legalHold };
      const { retention: previousRetention, ...unchanged } = version.record;
      const retention = request.retention === undefined ? previousRetention : (request.retention ?? undefined);
      const record = { ...unchanged, tags: request.tags, tagsRevision: request.tagsRevision, ...grants, ...legalHold, ...(retention === undefined ? {} : { retention }) };
      const changed = { ...version, record };
      if (version === current) await this.metadata.rewriteObject(changed);
      else await this.metadata.rewriteVersion(changed);
    });
  }

  /**
   * Replaces how a version seals its data key (master-key rotation), in place, current or not: an
   * older version's data key must move to the new master key too, or dropping the old key would make
   * that version unreadable. NotFound when the node does not hold the version or it is not encrypted
   * the same way. Repeats are harmless.
   */
  reseal(request: ResealRequest): Promise<void> {
    return this.track(
      this.keyLocks.run(lockKey(request.bucket, request.key), async () => {
        const current = await this.metadata.getObject(request.bucket, request.key);
        const version = current?.record.versionId === request.versionId ? current : await this.metadata.getVersion(request.bucket, request.key, request.versionId);
        if (version === undefined || version.record.encryption?.kind !== request.encryption.kind) {
          throw new ShardStoreError('NotFound', 'this node does not hold this version encrypted this way');
        }
        const changed = { ...version, record: { ...version.record, encryption: request.encryption } };
        if (version === current) await this.metadata.rewriteObject(changed);
        else await this.metadata.rewriteVersion(changed);
      }),
    );
  }

  /**
   * Drops a prepared shard; unknown ones are ignored so aborts can be retried. A prepare of the shard
   * still running is let finish first: a writer that gave up after sending the whole body (its write
   * quorum failed elsewhere) aborts while this node may still be syncing it, and the row that prepare
   * writes must not outlive the abort.
   */
  abort(ref: ShardRef): Promise<void> {
    return this.track(this.abortNow(ref));
  }

  /** The untracked body of abort. */
  private async abortNow(ref: ShardRef): Promise<void> {
    const running = this.preparing.get(shardKey(ref));
    if (running !== undefined) await Promise.allSettled([...running]);
    await this.keyLocks.run(lockKey(ref.bucket, ref.key), async () => {
      const { stored, prepared } = await this.metadata.getObjectAndPrepared(ref);
      // Against the current row when it is this version; otherwise looked up, as it may be a noncurrent one.
      if (prepared !== undefined) await this.dropPrepared(ref, prepared, stored !== undefined && pointsAt(stored, ref) ? stored : undefined);
    });
  }

  /** The newest committed version of a key on this node. */
  async objectStatus(bucket: string, objectName: string): Promise<StoredObject | undefined> {
    return this.metadata.getObject(bucket, objectName);
  }

  /**
   * Opens a committed shard for reading and checks its header before anything is sent, so a bad or
   * missing shard is an error status rather than a broken body. The chunks are verified as they are read,
   * into the memory `into` names, which says how long the consumer may hold one (ChunkMemory).
   */
  async openShard(
    requested: ShardRef,
    offsetBytes: number,
    lengthBytes: number,
    into: ChunkMemory = {},
  ): Promise<{ sizeBytes: number; chunks: AsyncGenerator<Buffer> }> {
    const found = await this.metadata.getObjectAndInline(requested);
    const { stored } = found;
    let { image } = found;
    if (stored === undefined || stored.record.versionId !== requested.versionId || stored.shardIndex !== requested.shardIndex) {
      throw new ShardStoreError('NotFound', 'shard not held by this node');
    }
    // A reader that named only the version (an older peer, a tool) is served the shard its row names.
    const ref = storedRef(stored) ?? requested;
    if (shardDataId(ref) !== shardDataId(requested)) {
      if (requested.dataId !== undefined) throw new ShardStoreError('NotFound', 'shard not held by this node');
      if (stored.inline === true) image = await this.metadata.getInline(ref);
    }
    return this.openStored(ref, stored, image, offsetBytes, lengthBytes, into);
  }

  /**
   * A key's newest version on this node with its shard's bytes when the shard is inline: the row and
   * the image in two reads (the image's key comes from the row), checked as openShard checks them.
   * Null bytes when the shard is a file or its image fails its checks (quarantined, as on any read):
   * the reader then reads or rebuilds the shard on its own path.
   */
  async objectStatusWithInline(bucket: string, objectName: string): Promise<{ stored: StoredObject; inlineShard: Buffer | null } | undefined> {
    const stored = await this.metadata.getObject(bucket, objectName);
    if (stored === undefined) return undefined;
    const ref = stored.inline === true && stored.shardIndex !== null ? storedRef(stored) : null;
    if (ref === null) return { stored, inlineShard: null };
    try {
      const { chunks } = await this.openStored(ref, stored, await this.metadata.getInline(ref), 0, stored.shardSizeBytes);
      const pieces: Buffer[] = [];
      for await (const piece of chunks) pieces.push(piece);
      return { stored, inlineShard: pieces.length === 1 ? (pieces[0] as Buffer) : Buffer.concat(pieces) };
    } catch (err) {
      if (err instanceof ShardStoreError && err.code !== 'WriteFenced') return { stored, inlineShard: null };
      throw err;
    }
  }

  /** Opens the shard `stored` names (its inline `image` read already, if any) through the verified read path. */
  private async openStored(
    ref: ShardRef,
    stored: StoredObject,
    image: Buffer | undefined,
    offsetBytes: number,
    lengthBytes: number,
    into: ChunkMemory = {},
  ): Promise<{ sizeBytes: number; chunks: AsyncGenerator<Buffer> }> {
    const opened = await this.openSource(ref, stored, image);
    let release = (): void => undefined;
    try {
      const ahead = await readShardHeaderAhead(opened.source, this.hash, offsetBytes, lengthBytes, stored.shardSizeBytes, into);
      const { header, source } = ahead;
      release = ahead.release;
      if (header.versionId !== shardDataId(ref) || header.shardIndex !== ref.shardIndex) {
        throw new ShardCorruptError('shard header names another version or shard');
      }
      const length = Math.max(0, Math.min(lengthBytes, header.shardSizeBytes - offsetBytes));
      const close = async (): Promise<void> => {
        release();
        await opened.close();
      };
      return { sizeBytes: length, chunks: this.verifiedChunks({ source, close }, ref, header, offsetBytes, length, into) };
    } catch (err) {
      release();
      await opened.close();
      if (err instanceof ShardCorruptError) await this.quarantine(ref, 'checksum', err);
      throw err;
    }
  }

  /**
   * Forgets the node's copy of a key if it is still `versionId`: rebalance calls this once the new owners
   * hold the version, garbage collection once a tombstone is past its grace. Returns whether it dropped it.
   */
  async dropVersion(bucket: string, key: string, versionId: string): Promise<boolean> {
    return this.keyLocks.run(lockKey(bucket, key), async () => {
      const current = await this.metadata.getObject(bucket, key);
      if (current === undefined || current.record.versionId !== versionId) return false;
      // Noncurrent versions still here would lose their placement-index row with the key's: they go first.
      if ((await this.metadata.keyVersionsPage(bucket, key, null, 2)).some((v) => v.record.versionId !== versionId)) return false;
      const ref = storedRef(current);
      const wasQuarantined = ref !== null && (await this.metadata.isQuarantined(ref));
      await this.metadata.dropObject(current);
      if (wasQuarantined) this.quarantineCount = Math.max(0, this.quarantineCount - 1);
      this.space.release(current.shardSizeBytes);
      await this.removeFile(current.file);
      return true;
    });
  }

  /**
   * Forgets this node's copy of a noncurrent version (rebalance, once the key's new set holds it): no
   * tombstone, no Object Lock check, since the version lives on elsewhere. False when the version is
   * not held here or is the key's current one.
   */
  async dropNoncurrentVersion(bucket: string, key: string, versionId: string): Promise<boolean> {
    return this.track(
      this.keyLocks.run(lockKey(bucket, key), async () => {
        const current = await this.metadata.getObject(bucket, key);
        const target = await this.metadata.getVersion(bucket, key, versionId);
        if (target === undefined || current?.record.versionId === versionId) return false;
        const ref = storedRef(target);
        const wasQuarantined = ref !== null && (await this.metadata.isQuarantined(ref));
        await this.metadata.dropNoncurrent(target);
        if (wasQuarantined) this.quarantineCount = Math.max(0, this.quarantineCount - 1);
        this.space.release(target.shardSizeBytes);
        await this.removeFile(target.file);
        return true;
      }),
    );
  }

  /** Drops a quarantine row whose version this node no longer holds (a newer write replaced it). */
  async forgetQuarantined(ref: ShardRef): Promise<void> {
    if (await this.metadata.clearQuarantine(ref)) this.quarantineCount = Math.max(0, this.quarantineCount - 1);
  }

  /** The newest record of bucket `name` this node holds (a tombstone when deleted), if any; kept in memory. */
  bucketRecord(name: string): Promise<BucketRecord | undefined> {
    return this.incarnations.held(name);
  }

  /**
   * Stores a bucket record if newer. A closing or deleted record is acknowledged once every commit the
   * node took into that bucket before it has been applied (bucket-incarnations.ts).
   */
  async putBucket(record: BucketRecord): Promise<void> {
    await this.incarnations.stored(await this.metadata.putBucket(record));
  }

  /** Listing rows for a bucket. */
  async list(query: ListQuery): Promise<{ entries: StoredObject[]; truncated: boolean }> {
    return this.metadata.listObjects(query);
  }

  /** Seals the open segment if its file was removed from under the node (segment-log.ts): scrub and collector passes call it. */
  sealUnlinkedSegment(): Promise<void> {
    return this.segments.sealIfUnlinked();
  }

  /** The first sealed segment numbered above `after`, with the bytes its registered images hold: what compaction looks at next. */
  async segmentUsageAfter(after: number): Promise<SegmentUsage | null> {
    await this.segments.sealIfUnlinked();
    const next = (await this.segments.list()).find((entry) => entry.sealed && entry.segment > after);
    if (next === undefined) return null;
    let liveBytes = 0;
    for await (const { file } of this.metadata.filesUnder(segmentPlacePrefix(next.segment).slice(0, -1))) liveBytes += segmentPlaceOf(file)?.lengthBytes ?? 0;
    return { segment: next.segment, sizeBytes: next.sizeBytes, liveBytes };
  }

  /**
   * Copies the registered images of a sealed segment to the open one, each under its key's lock and
   * re-pointed in one synced batch only if its rows still name the old place, then removes the segment
   * once no row names anything in it. An image only a prepared row names is left for its commit or
   * abort (a prepare writes its row without the key's lock); an image that fails its checksums is
   * quarantined, not copied, and its repair gives it a new place.
   */
  async compactSegment(segment: number, signal: AbortSignal): Promise<CompactionResult> {
    const result: CompactionResult = { moved: 0, movedBytes: 0, removed: false, freedBytes: 0 };
    const directory = segmentPlacePrefix(segment).slice(0, -1);
    const images: { file: string; ref: ShardRef }[] = [];
    let liveBytes = 0;
    for await (const image of this.metadata.filesUnder(directory)) {
      images.push(image);
      liveBytes += segmentPlaceOf(image.file)?.lengthBytes ?? 0;
    }
    // The copies are written before the segment goes: on a disk too full for them and the reserve, wait for room.
    if (liveBytes > 0 && (await this.freeBytes()) < this.reserveBytes + liveBytes) return result;
    for (const { file, ref } of images) {
      signal.throwIfAborted();
      const movedBytes = await this.track(this.keyLocks.run(lockKey(ref.bucket, ref.key), () => this.moveImage(file, ref)));
      if (movedBytes > 0) {
        result.moved += 1;
        result.movedBytes += movedBytes;
      }
    }
    for await (const _left of this.metadata.filesUnder(directory)) return result;
    const sizeBytes = (await this.segments.list()).find((entry) => entry.segment === segment)?.sizeBytes ?? 0;
    await this.segments.remove(segment);
    return { ...result, removed: true, freedBytes: sizeBytes };
  }

  /** Moves one registered image to the open segment (the caller holds its key's lock); answers the bytes moved, 0 when it was not. */
  private async moveImage(file: string, ref: ShardRef): Promise<number> {
    const place = segmentPlaceOf(file);
    if (place === null) return 0;
    const current = await this.metadata.getObject(ref.bucket, ref.key);
    const versions = (await this.metadata.keyVersionsFrom(ref.bucket, ref.key, shardDataId(ref))).filter((version) => version.file === file);
    const holder = current?.file === file ? current : versions[0];
    if (holder === undefined) {
      if ((await this.metadata.getPrepared(ref))?.file === file) return 0;
      // No row names it any more (a repeated prepare's earlier place, a drop that raced this pass).
      await this.metadata.forgetFile(file);
      return 0;
    }
    const opened = await this.segments.openRead(place);
    const image = Buffer.allocUnsafe(place.lengthBytes);
    try {
      for (let at = 0; at < place.lengthBytes; ) {
        const { bytesRead } = await opened.source.read(image, at, place.lengthBytes - at, at);
        if (bytesRead === 0) throw new ShardCorruptError('segment image truncated');
        at += bytesRead;
      }
      const header = await readShardHeader(bufferSource(image), this.hash);
      for await (const _chunk of readShardRange(bufferSource(image), header, 0, header.shardSizeBytes, this.hash)) {
        // Every chunk checked: a damaged image is not copied as if it were good.
      }
    } catch (err) {
      if (!(err instanceof ShardCorruptError)) throw err;
      await this.quarantine(storedRef(holder) ?? ref, 'checksum', err);
      return 0;
    } finally {
      await opened.close();
    }
    const moved = await this.segments.append([image]);
    await this.metadata.relocateShard(ref, file, segmentPlaceName(moved), current?.file === file ? current : undefined, versions);
    return place.lengthBytes;
  }

  /** Names of every shard file on disk, for tests and tools. */
  async shardFiles(): Promise<string[]> {
    const names: string[] = [];
    for (const dir of await readdir(this.shardDir)) {
      for (const name of await readdir(join(this.shardDir, dir))) names.push(`${dir}/${name}`);
    }
    return names;
  }

  /** The committed shard's bytes: its inline image (read with its row), its place in a segment or its open file. */
  private async openSource(ref: ShardRef, stored: StoredObject, image: Buffer | undefined): Promise<{ source: PositionalSource; close: () => Promise<void> }> {
    if (stored.inline === true) {
      if (image === undefined) return this.missingShard(ref);
      return { source: bufferSource(image), close: async () => undefined };
    }
    if (stored.file === null) throw new ShardStoreError('NotFound', 'shard not held by this node');
    const place = segmentPlaceOf(stored.file);
    if (place !== null) {
      try {
        return await this.segments.openRead(place);
      } catch (err) {
        if (!(err instanceof ShardStoreError && err.code === 'NotFound')) throw err;
        // Compaction may have moved the image and removed its segment since the row was read.
        const now = await this.metadata.getVersion(ref.bucket, ref.key, ref.versionId);
        if (now !== undefined && now.shardIndex === ref.shardIndex && now.file !== null && now.file !== stored.file) return this.openSource(ref, now, undefined);
        return this.missingShard(ref);
      }
    }
    const path = shardFilePath(this.shardDir, stored.file);
    const buffer = this.direct.take();
    try {
      if (buffer !== null) {
        const source = new DirectReadSource(await open(path, DIRECT_READ_FLAGS), buffer, this.direct);
        return { source, close: () => source.close() };
      }
      const handle = await open(path, 'r');
      return { source: handle, close: () => handle.close() };
    } catch (err) {
      if (buffer !== null) this.direct.release(buffer);
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return this.missingShard(ref);
      throw err;
    }
  }

  /** A committed shard whose bytes are gone: quarantined, unless a newer commit replaced it meanwhile. */
  private async missingShard(ref: ShardRef): Promise<never> {
    const now = await this.metadata.getVersion(ref.bucket, ref.key, ref.versionId);
    if (now?.record.versionId === ref.versionId && now.shardIndex === ref.shardIndex) {
      await this.quarantine(ref, 'missing', new Error('shard data missing'));
      throw new ShardStoreError('NotFound', 'shard data missing');
    }
    throw new ShardStoreError('NotFound', 'shard was replaced by a newer version');
  }

  private async *verifiedChunks(
    opened: { source: PositionalSource; close: () => Promise<void> },
    ref: ShardRef,
    header: ShardHeader,
    offsetBytes: number,
    lengthBytes: number,
    into: ChunkMemory,
  ): AsyncGenerator<Buffer> {
    try {
      yield* readShardRange(opened.source, header, offsetBytes, lengthBytes, this.hash, into);
    } catch (err) {
      if (err instanceof ShardCorruptError) await this.quarantine(ref, 'checksum', err);
      throw err;
    } finally {
      await opened.close();
    }
  }

  /** Logs, counts and records a bad shard for repair; a failure to record must not hide the original error. */
  private async quarantine(ref: ShardRef, reason: QuarantineReason, err: Error): Promise<void> {
    if (reason === 'checksum') this.checksumFailureCount += 1;
    this.logger.error({ ref, err, reason }, 'shard unreadable, quarantined for repair');
    try {
      const entry = { ...ref, reason, detail: err.message, detectedMs: this.clock() };
      const added = await this.quarantineLocks.run(`${lockKey(ref.bucket, ref.key)}\0${ref.versionId}\0${ref.shardIndex}`, () => this.metadata.quarantine(entry));
      if (added) this.quarantineCount += 1;
    } catch (recordErr) {
      this.logger.error({ ref, err: recordErr }, 'could not record a quarantined shard');
    }
  }

  /**
   * Drops a prepared shard, keeping its data when the committed row points at the same shard (a
   * repeated prepare). `committed` is the key's row (null: none) when the caller, holding the key's
   * lock, has just read it; undefined makes this read it.
   */
  private async dropPrepared(ref: ShardRef, prepared: PreparedShard, committed?: StoredObject | null): Promise<void> {
    let keepData = committed === undefined ? await this.isCommitted(ref) : committed !== null && pointsAt(committed, ref);
    // A segment image has a place of its own: a prepare of a committed shard wrote it again elsewhere, and only that place goes.
    if (keepData && prepared.file !== null && segmentPlaceOf(prepared.file) !== null) keepData = await this.namesFile(ref, prepared.file);
    await this.metadata.dropPrepared(ref, prepared, keepData);
    this.space.release(prepared.shardSizeBytes);
    if (!keepData) await this.removeFile(prepared.file);
  }

  /**
   * Whether a committed version, current or noncurrent, holds the shard `ref` names. A prepared shard's
   * ref carries the data id it was written under, which its version keeps beside an id of its own taken
   * at commit, never older: only the key's versions from that id on are looked through, none or a few
   * when a write that just failed is aborted.
   *
   * Most calls end at the key's committed row, which the row cache usually holds: it is the key's newest
   * version, so when it is absent or older than the data id, no version is from that id on, and the range
   * read would find nothing (committed-shard-guard.ts says why a client write's prepare ends there).
   */
  private async isCommitted(ref: ShardRef): Promise<boolean> {
    const current = await this.metadata.getObject(ref.bucket, ref.key);
    if (current === undefined) return false;
    if (pointsAt(current, ref)) return true;
    const dataId = shardDataId(ref);
    if (compareVersionIds(current.record.versionId, dataId) < 0) return false;
    return (await this.metadata.keyVersionsFrom(ref.bucket, ref.key, dataId)).some((version) => pointsAt(version, ref));
  }

  /** Whether a committed version of the shard's key, current or not, names `file` as its shard's place. */
  private async namesFile(ref: ShardRef, file: string): Promise<boolean> {
    if ((await this.metadata.getObject(ref.bucket, ref.key))?.file === file) return true;
    return (await this.metadata.keyVersionsFrom(ref.bucket, ref.key, shardDataId(ref))).some((version) => version.file === file);
  }

  private classifyWriteError(err: unknown): unknown {
    if (err instanceof ShardStoreError) {
      if (err.code === 'NoSpace') this.noSpaceCount += 1;
      return err;
    }
    if (isNoSpace(err)) {
      this.noSpaceCount += 1;
      return new ShardStoreError('NoSpace', 'disk full while writing a shard', { cause: err });
    }
    if (isIoError(err)) {
      this.ioErrorCount += 1;
      this.logger.error({ err }, 'disk I/O error while writing a shard');
      return new ShardStoreError('IoError', 'disk I/O error while writing a shard', { cause: err });
    }
    return err;
  }

  /**
   * The shard data a repair's commit replaced in place: the file is removed; a segment image's place
   * leaves the registry (the commit's batch wrote the new place's row, not the old one's removal).
   */
  private async dropReplacedData(file: string | null): Promise<void> {
    if (file !== null && segmentPlaceOf(file) !== null) await this.metadata.forgetFile(file);
    else await this.removeFile(file);
  }

  /** Removes a shard's file once no row names it; a segment's image needs nothing (compaction reclaims its bytes). */
  private async removeFile(file: string | null): Promise<void> {
    if (file === null || segmentPlaceOf(file) !== null) return;
    await rm(shardFilePath(this.shardDir, file), { force: true });
  }
}

/** Whether a committed row is this very shard. */
function pointsAt(stored: StoredObject, ref: ShardRef): boolean {
  return shardDataId(shardRefOf(stored.record, ref.shardIndex)) === shardDataId(ref) && stored.shardIndex === ref.shardIndex;
}

/** Whether a record is its key's `null` version: written while the bucket's versioning was not Enabled. */
function isNullVersion(record: ObjectRecord): boolean {
  return record.versioning !== 'Enabled';
}

function lockKey(bucket: string, key: string): string {
  return `${bucket}\0${key}`;
}

/** One shard as prepares write it: its key, the data id it is written under and its index. */
function shardKey(ref: ShardRef): string {
  return `${lockKey(ref.bucket, ref.key)}\0${shardDataId(ref)}\0${ref.shardIndex}`;
}
