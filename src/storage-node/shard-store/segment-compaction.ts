import { shardDataId, type ShardRef } from '../../rpc/index.js';
import { storedRef } from '../metadata-store.js';
import { ShardCorruptError, bufferSource, readShardHeader, readShardRange } from '../shard-file.js';
import { segmentPlaceName, segmentPlaceOf, segmentPlacePrefix } from '../shard-paths.js';
import { lockKey, type StoreCore } from './store-core.js';

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

/** Reclaims sealed segments: copies their registered images to the open segment and removes them. */
export class SegmentCompaction {
  private readonly core: StoreCore;

  constructor(core: StoreCore) {
    this.core = core;
  }

  /** Seals the open segment if its file was removed from under the node (segment-log.ts): scrub and collector passes call it. */
  sealUnlinkedSegment(): Promise<void> {
    return this.core.segments.sealIfUnlinked();
  }

  /** The first sealed segment numbered above `after`, with the bytes its registered images hold: what compaction looks at next. */
  async segmentUsageAfter(after: number): Promise<SegmentUsage | null> {
    await this.core.segments.sealIfUnlinked();
    const next = (await this.core.segments.list()).find((entry) => entry.sealed && entry.segment > after);
    if (next === undefined) return null;
    let liveBytes = 0;
    for await (const { file } of this.core.metadata.filesUnder(segmentPlacePrefix(next.segment).slice(0, -1))) liveBytes += segmentPlaceOf(file)?.lengthBytes ?? 0;
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
    for await (const image of this.core.metadata.filesUnder(directory)) {
      images.push(image);
      liveBytes += segmentPlaceOf(image.file)?.lengthBytes ?? 0;
    }
    // The copies are written before the segment goes: on a disk too full for them and the reserve, wait for room.
    if (liveBytes > 0 && (await this.core.freeBytes()) < this.core.reserveBytes + liveBytes) return result;
    for (const { file, ref } of images) {
      signal.throwIfAborted();
      const movedBytes = await this.core.track(this.core.keyLocks.run(lockKey(ref.bucket, ref.key), () => this.moveImage(file, ref)));
      if (movedBytes > 0) {
        result.moved += 1;
        result.movedBytes += movedBytes;
      }
    }
    for await (const _left of this.core.metadata.filesUnder(directory)) return result;
    const sizeBytes = (await this.core.segments.list()).find((entry) => entry.segment === segment)?.sizeBytes ?? 0;
    await this.core.segments.remove(segment);
    return { ...result, removed: true, freedBytes: sizeBytes };
  }

  /** Moves one registered image to the open segment (the caller holds its key's lock); answers the bytes moved, 0 when it was not. */
  private async moveImage(file: string, ref: ShardRef): Promise<number> {
    const place = segmentPlaceOf(file);
    if (place === null) return 0;
    const current = await this.core.metadata.getObject(ref.bucket, ref.key);
    const versions = (await this.core.metadata.keyVersionsFrom(ref.bucket, ref.key, shardDataId(ref))).filter((version) => version.file === file);
    const holder = current?.file === file ? current : versions[0];
    if (holder === undefined) {
      if ((await this.core.metadata.getPrepared(ref))?.file === file) return 0;
      // No row names it any more (a repeated prepare's earlier place, a drop that raced this pass).
      await this.core.metadata.forgetFile(file);
      return 0;
    }
    const opened = await this.core.segments.openRead(place);
    const image = Buffer.allocUnsafe(place.lengthBytes);
    try {
      for (let at = 0; at < place.lengthBytes; ) {
        const { bytesRead } = await opened.source.read(image, at, place.lengthBytes - at, at);
        if (bytesRead === 0) throw new ShardCorruptError('segment image truncated');
        at += bytesRead;
      }
      const header = await readShardHeader(bufferSource(image), this.core.hash);
      for await (const _chunk of readShardRange(bufferSource(image), header, 0, header.shardSizeBytes, this.core.hash)) {
        // Every chunk checked: a damaged image is not copied as if it were good.
      }
    } catch (err) {
      if (!(err instanceof ShardCorruptError)) throw err;
      await this.core.quarantine(storedRef(holder) ?? ref, 'checksum', err);
      return 0;
    } finally {
      await opened.close();
    }
    const moved = await this.core.segments.append([image]);
    await this.core.metadata.relocateShard(ref, file, segmentPlaceName(moved), current?.file === file ? current : undefined, versions);
    return place.lengthBytes;
  }
}
