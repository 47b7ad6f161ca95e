import { open } from 'node:fs/promises';
import { shardDataId, type ListQuery, type ShardRef, type VersionListQuery } from '../../rpc/index.js';
import { DIRECT_READ_FLAGS, DirectReadSource } from '../direct-io.js';
import { storedRef, type ListedRows, type StoredObject, type VersionListRows } from '../metadata-store.js';
import { ShardCorruptError, bufferSource, readShardHeaderAhead, readShardRange, type ChunkMemory, type PositionalSource, type ShardHeader } from '../shard-file.js';
import { segmentPlaceOf, shardFilePath } from '../shard-paths.js';
import { ShardStoreError } from '../shard-store-error.js';
import { isNullVersion, type StoreCore } from './store-core.js';

/** The read path of a shard store: a key's rows and listings, and shard bytes opened through their checksums. */
export class ShardReads {
  private readonly core: StoreCore;

  constructor(core: StoreCore) {
    this.core = core;
  }

  /** The newest committed version of a key on this node. */
  async objectStatus(bucket: string, objectName: string): Promise<StoredObject | undefined> {
    return this.core.metadata.getObject(bucket, objectName);
  }

  /** One version of a key by id; `null` names the key's null version. */
  async versionStatus(bucket: string, key: string, versionId: string): Promise<StoredObject | undefined> {
    if (versionId !== 'null') return this.core.metadata.getVersion(bucket, key, versionId);
    const versions = await this.core.metadata.keyVersions(bucket, key);
    const current = await this.core.metadata.getObject(bucket, key);
    if (current !== undefined && !versions.some((v) => v.record.versionId === current.record.versionId)) versions.unshift(current);
    return versions.find((v) => isNullVersion(v.record));
  }

  /** Version listing rows for a bucket; an `afterVersion` of `null` resumes after the marker key's null version. */
  async listVersions(query: VersionListQuery): Promise<VersionListRows> {
    let afterVersionId = query.afterVersion;
    if (afterVersionId === 'null') afterVersionId = (await this.versionStatus(query.bucket, query.after, 'null'))?.record.versionId;
    return this.core.metadata.listVersions(query, afterVersionId);
  }

  /** Listing rows for a bucket. */
  async list(query: ListQuery): Promise<ListedRows> {
    return this.core.metadata.listObjects(query);
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
    const found = await this.core.metadata.getObjectAndInline(requested);
    const { stored } = found;
    let { image } = found;
    if (stored === undefined || stored.record.versionId !== requested.versionId || stored.shardIndex !== requested.shardIndex) {
      throw new ShardStoreError('NotFound', 'shard not held by this node');
    }
    // A reader that named only the version (an older peer, a tool) is served the shard its row names.
    const ref = storedRef(stored) ?? requested;
    if (shardDataId(ref) !== shardDataId(requested)) {
      if (requested.dataId !== undefined) throw new ShardStoreError('NotFound', 'shard not held by this node');
      if (stored.inline === true) image = await this.core.metadata.getInline(ref);
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
    const stored = await this.core.metadata.getObject(bucket, objectName);
    if (stored === undefined) return undefined;
    const ref = stored.inline === true && stored.shardIndex !== null ? storedRef(stored) : null;
    if (ref === null) return { stored, inlineShard: null };
    try {
      const { chunks } = await this.openStored(ref, stored, await this.core.metadata.getInline(ref), 0, stored.shardSizeBytes);
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
      const ahead = await readShardHeaderAhead(opened.source, this.core.hash, offsetBytes, lengthBytes, stored.shardSizeBytes, into);
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
      if (err instanceof ShardCorruptError) await this.core.quarantine(ref, 'checksum', err);
      throw err;
    }
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
        return await this.core.segments.openRead(place);
      } catch (err) {
        if (!(err instanceof ShardStoreError && err.code === 'NotFound')) throw err;
        // Compaction may have moved the image and removed its segment since the row was read.
        const now = await this.core.metadata.getVersion(ref.bucket, ref.key, ref.versionId);
        if (now !== undefined && now.shardIndex === ref.shardIndex && now.file !== null && now.file !== stored.file) return this.openSource(ref, now, undefined);
        return this.missingShard(ref);
      }
    }
    const path = shardFilePath(this.core.shardDir, stored.file);
    const buffer = this.core.direct.take();
    try {
      if (buffer !== null) {
        const source = new DirectReadSource(await open(path, DIRECT_READ_FLAGS), buffer, this.core.direct);
        return { source, close: () => source.close() };
      }
      const handle = await open(path, 'r');
      return { source: handle, close: () => handle.close() };
    } catch (err) {
      if (buffer !== null) this.core.direct.release(buffer);
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return this.missingShard(ref);
      throw err;
    }
  }

  /** A committed shard whose bytes are gone: quarantined, unless a newer commit replaced it meanwhile. */
  private async missingShard(ref: ShardRef): Promise<never> {
    const now = await this.core.metadata.getVersion(ref.bucket, ref.key, ref.versionId);
    if (now?.record.versionId === ref.versionId && now.shardIndex === ref.shardIndex) {
      await this.core.quarantine(ref, 'missing', new Error('shard data missing'));
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
      yield* readShardRange(opened.source, header, offsetBytes, lengthBytes, this.core.hash, into);
    } catch (err) {
      if (err instanceof ShardCorruptError) await this.core.quarantine(ref, 'checksum', err);
      throw err;
    } finally {
      await opened.close();
    }
  }
}
