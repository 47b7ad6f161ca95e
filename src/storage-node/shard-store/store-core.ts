import { rm, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULTS, compareVersionIds, type Logger } from '../../common/index.js';
import { shardDataId, shardRefOf, type ObjectRecord, type ShardRef } from '../../rpc/index.js';
import { BucketIncarnations } from '../bucket-incarnations.js';
import type { BlockHasher } from '../checksum.js';
import { DirectBuffers } from '../direct-io.js';
import { KeyedMutex } from '../keyed-mutex.js';
import { MetadataStore, type PreparedShard, type QuarantineReason, type StoredObject } from '../metadata-store.js';
import { SegmentLog } from '../segment-log.js';
import { segmentPlaceOf, shardFilePath } from '../shard-paths.js';
import { ShardStoreError, isIoError, isNoSpace } from '../shard-store-error.js';
import { DEFAULT_READ_AHEAD_BUDGET_BYTES, ShardPreparer } from '../shard-preparer.js';
import { SpaceLedger } from '../space-ledger.js';
import { DEFAULT_INLINE_MAX_SHARD_BYTES, DEFAULT_PREPARED_GRACE_MS, DEFAULT_SEGMENT_MAX_SHARD_BYTES, MAX_SEGMENT_SHARD_BYTES, type ShardStoreOptions } from './shard-store-options.js';

/**
 * What every job of a shard store shares (shard-writes.ts, shard-reads.ts, shard-deletes.ts,
 * segment-compaction.ts): its directories, metadata, space ledger, segments and key locks, the writes
 * in flight, the counters the health report shows, and the steps more than one job takes (quarantining
 * a bad shard, dropping a prepared one, removing a file no row names).
 */
export class StoreCore {
  readonly metadata: MetadataStore;
  readonly dataDir: string;
  readonly shardDir: string;
  readonly tmpDir: string;
  readonly hash: BlockHasher;
  readonly logger: Logger;
  readonly preparedGraceMs: number;
  readonly fsync: boolean;
  readonly clock: () => number;
  readonly space: SpaceLedger;
  readonly preparer: ShardPreparer;
  readonly segments: SegmentLog;
  /** Buffers for shard files read and written past the page cache: handed out once open() found that this file system takes that. */
  readonly direct: DirectBuffers;
  /** Free space kept for LevelDB and recovery: client writes and compaction leave it alone. */
  readonly reserveBytes: number;
  readonly keyLocks = new KeyedMutex();
  readonly incarnations: BucketIncarnations;
  /** Serialises quarantining per shard: two readers that find one bad shard at once must count it once. */
  readonly quarantineLocks = new KeyedMutex();
  readonly inFlight = new Set<Promise<unknown>>();
  /** Prepares running now, by the shard they write (shardKey): an abort of that shard waits for them. */
  readonly preparing = new Map<string, Set<Promise<unknown>>>();
  checksumFailureCount = 0;
  quarantineCount = 0;
  noSpaceCount = 0;
  ioErrorCount = 0;

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
    this.preparer = new ShardPreparer({
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

  /** Counts a mutation as in flight until it settles, so close() can wait for it. */
  track<T>(work: Promise<T>): Promise<T> {
    this.inFlight.add(work);
    const forget = (): void => {
      this.inFlight.delete(work);
    };
    work.then(forget, forget);
    return work;
  }

  /** Free bytes on the data directory's file system. */
  async freeBytes(): Promise<number> {
    const stats = await statfs(this.dataDir);
    return stats.bavail * stats.bsize;
  }

  /** Logs, counts and records a bad shard for repair; a failure to record must not hide the original error. */
  async quarantine(ref: ShardRef, reason: QuarantineReason, err: Error): Promise<void> {
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
  async dropPrepared(ref: ShardRef, prepared: PreparedShard, committed?: StoredObject | null): Promise<void> {
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
  async isCommitted(ref: ShardRef): Promise<boolean> {
    const current = await this.metadata.getObject(ref.bucket, ref.key);
    if (current === undefined) return false;
    if (pointsAt(current, ref)) return true;
    const dataId = shardDataId(ref);
    if (compareVersionIds(current.record.versionId, dataId) < 0) return false;
    return (await this.metadata.keyVersionsFrom(ref.bucket, ref.key, dataId)).some((version) => pointsAt(version, ref));
  }

  /** Whether a committed version of the shard's key, current or not, names `file` as its shard's place. */
  async namesFile(ref: ShardRef, file: string): Promise<boolean> {
    if ((await this.metadata.getObject(ref.bucket, ref.key))?.file === file) return true;
    return (await this.metadata.keyVersionsFrom(ref.bucket, ref.key, shardDataId(ref))).some((version) => version.file === file);
  }

  classifyWriteError(err: unknown): unknown {
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
  async dropReplacedData(file: string | null): Promise<void> {
    if (file !== null && segmentPlaceOf(file) !== null) await this.metadata.forgetFile(file);
    else await this.removeFile(file);
  }

  /** Removes a shard's file once no row names it; a segment's image needs nothing (compaction reclaims its bytes). */
  async removeFile(file: string | null): Promise<void> {
    if (file === null || segmentPlaceOf(file) !== null) return;
    await rm(shardFilePath(this.shardDir, file), { force: true });
  }
}


/** Whether a committed row is this very shard. */
export function pointsAt(stored: StoredObject, ref: ShardRef): boolean {
  return shardDataId(shardRefOf(stored.record, ref.shardIndex)) === shardDataId(ref) && stored.shardIndex === ref.shardIndex;
}

/** Whether a record is its key's `null` version: written while the bucket's versioning was not Enabled. */
export function isNullVersion(record: ObjectRecord): boolean {
  return record.versioning !== 'Enabled';
}

/** The key-lock name of a key. */
export function lockKey(bucket: string, key: string): string {
  return `${bucket}\0${key}`;
}

/** One shard as prepares write it: its key, the data id it is written under and its index. */
export function shardKey(ref: ShardRef): string {
  return `${lockKey(ref.bucket, ref.key)}\0${shardDataId(ref)}\0${ref.shardIndex}`;
}
