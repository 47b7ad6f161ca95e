import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, statfs, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { TesseraError, type Logger } from '../common/index.js';
import type { BucketRecord, CommitRequest, ErasureParams, ListQuery, ShardRef, TagUpdateRequest } from '../rpc/index.js';
import type { BlockHasher } from './checksum.js';
import { KeyedMutex } from './keyed-mutex.js';
import { MetadataStore, type StoredObject } from './metadata-store.js';
import { ShardCorruptError, readShardHeader, readShardRange, writeShardFile } from './shard-file.js';

/** Failures of the shard store that the node server maps onto wire errors. */
export type ShardStoreErrorCode = 'NotFound' | 'Conflict' | 'NoSpace';

/** A typed shard store failure. */
export class ShardStoreError extends TesseraError<ShardStoreErrorCode> {}

/** Construction parameters of a shard store. */
export interface ShardStoreOptions {
  dataDir: string;
  hash: BlockHasher;
  logger: Logger;
  /** Refuse new shards when a write would leave less than this free (a full disk must fail cleanly). */
  reserveBytes?: number;
}

/**
 * A node's durable state: shard files under `<data>/shards`, metadata in LevelDB under `<data>/meta`.
 *
 * Write protocol: stream to `<data>/tmp/<random>`, fsync, rename into `shards/`, fsync the directory,
 * then record the prepared shard in LevelDB (synced). Commit writes the object row in one synced
 * batch; only then is the version visible. Nothing half-written can be listed or read.
 */
export class ShardStore {
  readonly metadata: MetadataStore;
  private readonly dataDir: string;
  private readonly shardDir: string;
  private readonly tmpDir: string;
  private readonly hash: BlockHasher;
  private readonly logger: Logger;
  private readonly reserveBytes: number;
  private readonly keyLocks = new KeyedMutex();
  private checksumFailureCount = 0;

  constructor(options: ShardStoreOptions) {
    this.dataDir = options.dataDir;
    this.shardDir = join(options.dataDir, 'shards');
    this.tmpDir = join(options.dataDir, 'tmp');
    this.hash = options.hash;
    this.logger = options.logger;
    this.reserveBytes = options.reserveBytes ?? 0;
    this.metadata = new MetadataStore(join(options.dataDir, 'meta'));
  }

  /** Opens LevelDB and removes temporary files a crash left behind (no write is in flight at start). */
  async open(): Promise<void> {
    await mkdir(this.shardDir, { recursive: true });
    await rm(this.tmpDir, { recursive: true, force: true });
    await mkdir(this.tmpDir, { recursive: true });
    await this.metadata.open();
  }

  /** Closes LevelDB. */
  async close(): Promise<void> {
    await this.metadata.close();
  }

  /** Checksum mismatches seen on reads since start. */
  get checksumFailures(): number {
    return this.checksumFailureCount;
  }

  /** Free bytes on the data directory's file system. */
  async freeBytes(): Promise<number> {
    const stats = await statfs(this.dataDir);
    return stats.bavail * stats.bsize;
  }

  /** Stores a streamed shard durably but invisibly; returns its size. */
  async prepare(ref: ShardRef, erasure: ErasureParams, body: Readable, signal?: AbortSignal): Promise<number> {
    if (this.reserveBytes > 0 && (await this.freeBytes()) < this.reserveBytes) {
      throw new ShardStoreError('NoSpace', 'not enough free space for a new shard');
    }
    const tmpPath = join(this.tmpDir, randomBytes(12).toString('hex'));
    const file = shardFileName(ref);
    let handle: FileHandle | undefined;
    try {
      handle = await open(tmpPath, 'wx');
      const sizeBytes = await writeShardFile(
        handle,
        body,
        { shardIndex: ref.shardIndex, ...erasure, versionId: ref.versionId },
        this.hash,
      );
      signal?.throwIfAborted();
      await handle.sync();
      await handle.close();
      handle = undefined;
      const finalPath = join(this.shardDir, file);
      await mkdir(join(this.shardDir, file.slice(0, 2)), { recursive: true });
      await rename(tmpPath, finalPath);
      await this.syncDirectory(join(this.shardDir, file.slice(0, 2)));
      await this.metadata.putPrepared(ref.bucket, ref.key, ref.versionId, ref.shardIndex, {
        file,
        shardSizeBytes: sizeBytes,
        preparedMs: Date.now(),
      });
      return sizeBytes;
    } catch (err) {
      await handle?.close().catch(() => undefined);
      await rm(tmpPath, { force: true });
      if (isNoSpace(err)) throw new ShardStoreError('NoSpace', 'disk full while writing a shard', { cause: err });
      throw err;
    }
  }

  /**
   * Makes a version visible. Last writer wins: when the node already holds a newer version the commit
   * is acknowledged and the older shard dropped, since the newer version hides it anyway.
   */
  async commit(request: CommitRequest): Promise<void> {
    const { record, shardIndex } = request;
    await this.keyLocks.run(`${record.bucket}\0${record.key}`, async () => {
      let incoming: StoredObject;
      if (shardIndex === null) {
        incoming = { record, shardIndex: null, shardSizeBytes: 0, file: null };
      } else {
        const prepared = await this.metadata.getPrepared(record.bucket, record.key, record.versionId, shardIndex);
        if (prepared === undefined) {
          const current = await this.metadata.getObject(record.bucket, record.key);
          // A repeated commit of what is already visible is a success: commits are retried.
          if (current?.record.versionId === record.versionId) return;
          throw new ShardStoreError('NotFound', 'no prepared shard for this version');
        }
        incoming = { record, shardIndex, shardSizeBytes: prepared.shardSizeBytes, file: prepared.file };
      }
      const current = await this.metadata.getObject(record.bucket, record.key);
      if (current !== undefined && current.record.versionId >= record.versionId) {
        if (current.record.versionId > record.versionId) await this.discard(incoming);
        return;
      }
      await this.metadata.commitObject(incoming);
      if (current !== undefined) await this.removeFile(current.file);
    });
  }

  /**
   * Replaces the tags of the current version in place: only the metadata row changes, never the data.
   * NotFound when the node's current version is another one (it missed that write, or a newer one won);
   * an older or repeated revision is acknowledged and ignored, so retries and reordering are harmless.
   */
  async updateTags(request: TagUpdateRequest): Promise<void> {
    await this.keyLocks.run(`${request.bucket}\0${request.key}`, async () => {
      const current = await this.metadata.getObject(request.bucket, request.key);
      if (current === undefined || current.record.deleted || current.record.versionId !== request.versionId) {
        throw new ShardStoreError('NotFound', 'this version is not the current one on this node');
      }
      if ((current.record.tagsRevision ?? '') >= request.tagsRevision) return;
      // Rewriting the committed row of the same version: commitObject writes exactly that row.
      await this.metadata.commitObject({ ...current, record: { ...current.record, tags: request.tags, tagsRevision: request.tagsRevision } });
    });
  }

  /** Drops a prepared shard; unknown ones are ignored so aborts can be retried. */
  async abort(ref: ShardRef): Promise<void> {
    const prepared = await this.metadata.getPrepared(ref.bucket, ref.key, ref.versionId, ref.shardIndex);
    if (prepared === undefined) return;
    await this.metadata.deletePrepared(ref.bucket, ref.key, ref.versionId, ref.shardIndex);
    await this.removeFile(prepared.file);
  }

  /** The newest committed version of a key on this node. */
  async objectStatus(bucket: string, objectName: string): Promise<StoredObject | undefined> {
    return this.metadata.getObject(bucket, objectName);
  }

  /**
   * Opens a committed shard for reading and checks its header before anything is sent, so a bad or
   * missing shard is an error status rather than a broken body.
   */
  async openShard(
    ref: ShardRef,
    offsetBytes: number,
    lengthBytes: number,
  ): Promise<{ sizeBytes: number; chunks: AsyncGenerator<Buffer> }> {
    const stored = await this.metadata.getObject(ref.bucket, ref.key);
    if (stored === undefined || stored.record.versionId !== ref.versionId || stored.shardIndex !== ref.shardIndex || stored.file === null) {
      throw new ShardStoreError('NotFound', 'shard not held by this node');
    }
    let handle: FileHandle;
    try {
      handle = await open(join(this.shardDir, stored.file), 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        this.logger.warn({ ref }, 'shard file missing');
        throw new ShardStoreError('NotFound', 'shard file missing', { cause: err });
      }
      throw err;
    }
    try {
      const header = await readShardHeader(handle, this.hash);
      if (header.versionId !== ref.versionId || header.shardIndex !== ref.shardIndex) {
        throw new ShardCorruptError('shard header names another version or shard');
      }
      const length = Math.max(0, Math.min(lengthBytes, header.shardSizeBytes - offsetBytes));
      return { sizeBytes: length, chunks: this.verifiedChunks(handle, ref, header, offsetBytes, length) };
    } catch (err) {
      await handle.close();
      if (err instanceof ShardCorruptError) this.noteCorruption(ref, err);
      throw err;
    }
  }

  /** Stores a bucket record if newer. */
  async putBucket(record: BucketRecord): Promise<void> {
    await this.metadata.putBucket(record);
  }

  /** Listing rows for a bucket. */
  async list(query: ListQuery): Promise<{ entries: StoredObject[]; truncated: boolean }> {
    return this.metadata.listObjects(query);
  }

  private async *verifiedChunks(
    handle: FileHandle,
    ref: ShardRef,
    header: Awaited<ReturnType<typeof readShardHeader>>,
    offsetBytes: number,
    lengthBytes: number,
  ): AsyncGenerator<Buffer> {
    try {
      yield* readShardRange(handle, header, offsetBytes, lengthBytes, this.hash);
    } catch (err) {
      if (err instanceof ShardCorruptError) this.noteCorruption(ref, err);
      throw err;
    } finally {
      await handle.close();
    }
  }

  private noteCorruption(ref: ShardRef, err: ShardCorruptError): void {
    this.checksumFailureCount += 1;
    this.logger.error({ ref, err }, 'shard failed its checksum');
  }

  private async discard(stored: StoredObject): Promise<void> {
    if (stored.shardIndex === null) return;
    await this.metadata.deletePrepared(stored.record.bucket, stored.record.key, stored.record.versionId, stored.shardIndex);
    await this.removeFile(stored.file);
  }

  private async removeFile(file: string | null): Promise<void> {
    if (file === null) return;
    await rm(join(this.shardDir, file), { force: true });
  }

  private async syncDirectory(path: string): Promise<void> {
    const dir = await open(path, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }

  /** Names of every shard file on disk, for garbage collection and tests. */
  async shardFiles(): Promise<string[]> {
    const names: string[] = [];
    for (const dir of await readdir(this.shardDir)) {
      for (const name of await readdir(join(this.shardDir, dir))) names.push(`${dir}/${name}`);
    }
    return names;
  }
}

/** A shard's file name: a hash of its identity, so no wire string ever becomes part of a path. */
export function shardFileName(ref: ShardRef): string {
  const digest = createHash('sha256')
    .update(`${ref.bucket}\0${ref.key}\0${ref.versionId}\0${ref.shardIndex}`)
    .digest('hex')
    .slice(0, 40);
  return `${digest.slice(0, 2)}/${digest}`;
}

function isNoSpace(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}
