import { mkdir, open, readdir, stat, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { alignUp, DIRECT_READ_FLAGS, DIRECT_WRITE_FLAGS, DirectReadSource, writeDirectAt, type DirectBuffers } from './direct-io.js';
import { writeFully, type PositionalSource } from './shard-file.js';
import { syncDirectory } from './shard-paths.js';
import { ShardStoreError } from './shard-store-error.js';

/** Where a shard image lives: a segment and a byte range of it. */
export interface SegmentPlace {
  segment: number;
  offsetBytes: number;
  lengthBytes: number;
}

/** Construction parameters of a segment log. */
export interface SegmentLogOptions {
  /** The directory segments live in (`<data>/segments`); created if missing. */
  dir: string;
  /** False skips every fdatasync and directory fsync: for benchmarks only. */
  fsync: boolean;
  /** A segment takes no more appends once it holds this much (DEFAULT_SEGMENT_MAX_BYTES). */
  maxSegmentBytes?: number;
  /** At most this much goes into one writev and one fdatasync (DEFAULT_BATCH_MAX_BYTES). */
  maxBatchBytes?: number;
  /**
   * The store's buffers for direct I/O (direct-io.ts): once their probe has found that the file system
   * takes it, large images are written and read past the page cache.
   */
  direct?: DirectBuffers;
}

/** A segment is sealed once it holds 1 GiB: big enough that creates are rare, small enough to compact in minutes. */
export const DEFAULT_SEGMENT_MAX_BYTES = 1024 ** 3;
/** One group commit writes at most 8 MiB: the appends waiting behind it are not held up by a long sync. */
export const DEFAULT_BATCH_MAX_BYTES = 8 * 1024 * 1024;
/** Buffers per writev, within every platform's IOV_MAX (1024 on Linux); a batch's first image goes whatever its count. */
const BATCH_MAX_BUFFERS = 1024;
/** Direct buffers a batch's write takes at most (about 4 MiB per writev): the rest stay for reads and shard files. */
const MAX_DIRECT_STAGES = 4;
/**
 * Images this large are written and read past the page cache when direct I/O is on (shards of 256 KiB
 * and more: objects from 1 MiB at 4+2, the gateway's whole stripe blocks). Smaller ones keep it: on
 * them a direct transfer's fixed cost (the device's round trip, the pinned pages, the aligned copy)
 * weighs as much as the fresh page-cache pages it saves (even at 128 KiB shards), and small objects are
 * the ones read again.
 */
export const DIRECT_MIN_IMAGE_BYTES = 256 * 1024;

/** Whether an image of this length goes past the page cache (when direct I/O is on at all). */
function directImage(lengthBytes: number): boolean {
  return lengthBytes >= DIRECT_MIN_IMAGE_BYTES;
}
const SEGMENT_NAME = /^[0-9a-f]{16}$/;

/** A segment file's name: its number in 16 hex digits, so names sort as numbers do (as segmentPlaceName writes it). */
export function segmentName(segment: number): string {
  if (!Number.isSafeInteger(segment) || segment < 0) throw new ShardStoreError('ShardCorrupt', `not a segment number: ${segment}`);
  return segment.toString(16).padStart(16, '0');
}

interface Waiting {
  /** The image's bytes, in order (shardImageParts): written as they are, never joined. */
  parts: readonly Uint8Array[];
  lengthBytes: number;
  done: (err: Error | null, place?: SegmentPlace) => void;
}

/** The segment appends go to. */
interface Writing {
  segment: number;
  /** Opened at its creation; its reads use it too. */
  handle: FileHandle;
  /** The same file opened with O_DIRECT for the batches' writes; null without direct I/O. */
  direct: FileHandle | null;
  /** Where the next batch goes: the end of the last, past the padding after a direct run. */
  sizeBytes: number;
}

/** An open segment file and the reads using it. */
interface OpenSegment {
  /** The file opened for buffered reads, once a read wanted it (from its creation for the segment appends go to). */
  handle: Promise<FileHandle> | null;
  /** The file opened with O_DIRECT, once a direct read wanted it. */
  direct: Promise<FileHandle> | null;
  readers: number;
  /** Unlinked, or sealed with no reader: the handle closes when the last reader lets go. */
  closeWhenIdle: boolean;
}

/**
 * Shard images of many objects appended to large files (docs/shard-packing.md): no file create, no
 * directory entry and no fsync of its own per shard. Appends waiting together share one `writev` and one
 * `fdatasync` (a group commit, as the metadata store's writes share LevelDB's): an append resolves with
 * its place only once its bytes are synced, so a record that names a place names durable bytes, and a
 * crash leaves at most bytes no record names at a segment's end.
 *
 * Appends go to the newest segment, and only while this log has it open: after a restart the log starts a
 * new segment, because the end of the last one may hold a torn batch. A failed write or sync seals the
 * segment too (what the file holds past its last good batch is not known). Reads share one handle per
 * segment, counted, so removing a segment (once compaction has moved its live images) never pulls a file
 * from under a read: the read goes on from the unlinked file, and the handle closes after it.
 */
export class SegmentLog {
  private readonly dir: string;
  private readonly fsync: boolean;
  private readonly maxSegmentBytes: number;
  private readonly maxBatchBytes: number;
  private readonly direct: DirectBuffers | undefined;
  private readonly segments = new Map<number, OpenSegment>();
  /** Sizes of sealed segments already looked at: they no longer change. */
  private readonly sealedSizes = new Map<number, number>();
  private waiting: Waiting[] = [];
  /** The flush loop while it runs: set and cleared in the same synchronous steps that check `waiting`. */
  private flushing: Promise<void> | null = null;
  /**
   * The segment appends go to, its size, and the same file opened for direct writes (null without direct
   * I/O); null until the first append (or after a failure sealed it).
   */
  private writing: Writing | null = null;
  /** A segment whose file is being created: not sealed, and not yet the one appends go to. */
  private creating: number | null = null;
  /** The number the next new segment takes; null until open() has read the directory. */
  private nextSegment: number | null = null;
  private closed = false;
  private appended = 0;
  private writes = 0;

  constructor(options: SegmentLogOptions) {
    this.dir = options.dir;
    this.fsync = options.fsync;
    this.maxSegmentBytes = options.maxSegmentBytes ?? DEFAULT_SEGMENT_MAX_BYTES;
    this.maxBatchBytes = options.maxBatchBytes ?? DEFAULT_BATCH_MAX_BYTES;
    this.direct = options.direct;
  }

  /** Opens the log in its directory (created if missing): existing segments are sealed; the first append starts the next one. */
  async open(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const numbers = (await readdir(this.dir)).filter((name) => SEGMENT_NAME.test(name)).map((name) => Number.parseInt(name, 16));
    this.nextSegment = numbers.length === 0 ? 0 : Math.max(...numbers) + 1;
  }

  /**
   * Appends a shard image, given as the buffers that make it up in order (one buffer, or shardImageParts);
   * resolves with its place once it is durable. The buffers must not change until then.
   */
  append(parts: readonly Uint8Array[]): Promise<SegmentPlace> {
    if (this.closed || this.nextSegment === null) return Promise.reject(new ShardStoreError('IoError', this.closed ? 'segment log closed' : 'segment log not open'));
    const lengthBytes = parts.reduce((sum, part) => sum + part.length, 0);
    return new Promise((resolve, reject) => {
      this.waiting.push({ parts, lengthBytes, done: (err, place) => (err === null ? resolve(place as SegmentPlace) : reject(err)) });
      this.flushing ??= this.flush();
    });
  }

  /**
   * The bytes at `place`, as a positional source whose position 0 is the image's first byte and which
   * ends with it. Call `close` when done. A segment that is gone answers NotFound.
   */
  async openRead(place: SegmentPlace): Promise<{ source: PositionalSource; close: () => Promise<void> }> {
    const entry = this.entryFor(place.segment);
    entry.readers += 1;
    // A large image past the page cache when a direct buffer is free: it was written directly, and a
    // buffered read would fill fresh page-cache pages (direct-io.ts says what those cost).
    const stage = directImage(place.lengthBytes) ? (this.direct?.take() ?? null) : null;
    let handle: FileHandle;
    try {
      handle = await this.fileOf(entry, place.segment, stage !== null);
    } catch (err) {
      if (stage !== null) this.direct?.release(stage);
      await this.release(place.segment, entry);
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new ShardStoreError('NotFound', `segment ${segmentName(place.segment)} is gone`);
      throw err;
    }
    const end = place.offsetBytes + place.lengthBytes;
    // The direct handle is the segment's, shared by its reads: closing the source leaves it open.
    const direct =
      stage === null
        ? null
        : new DirectReadSource({ read: (buffer, offset, length, position) => handle.read(buffer, offset, length, position), close: async () => undefined }, stage, this.direct as DirectBuffers, end);
    const reader: PositionalSource = direct ?? handle;
    // Positions are the image's own: they start at its offset in the segment and end with it.
    const within = (position: number, length: number): number => Math.max(0, Math.min(length, place.lengthBytes - position));
    const source: PositionalSource = {
      read: (buffer, offset, length, position) => {
        const bytes = within(position, length);
        if (bytes === 0) return Promise.resolve({ bytesRead: 0 });
        return reader.read(buffer, offset, bytes, Math.min(place.offsetBytes + position, end));
      },
      ...(direct === null
        ? {}
        : {
            readView: async (position: number, length: number) => {
              const bytes = within(position, length);
              return bytes === 0 ? Buffer.alloc(0) : direct.readView(place.offsetBytes + position, bytes);
            },
          }),
    };
    let released = false;
    return {
      source,
      close: async () => {
        if (released) return;
        released = true;
        await direct?.close();
        await this.release(place.segment, entry);
      },
    };
  }

  /** Removes a sealed segment: reads in progress finish from the unlinked file. Refuses the one appends go to. */
  async remove(segment: number): Promise<void> {
    if (this.writing?.segment === segment || this.creating === segment) throw new ShardStoreError('Conflict', `segment ${segmentName(segment)} takes appends`);
    this.sealedSizes.delete(segment);
    const entry = this.segments.get(segment);
    if (entry !== undefined) {
      this.segments.delete(segment);
      entry.closeWhenIdle = true;
      if (entry.readers === 0) await closeHandle(entry);
    }
    await unlink(join(this.dir, segmentName(segment))).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }

  /** Appends answered and the writes (each one fdatasync when syncing) that stored them: how well appends share a sync. */
  stats(): { appends: number; writes: number } {
    return { appends: this.appended, writes: this.writes };
  }

  /** Whether a segment's file exists. */
  async has(segment: number): Promise<boolean> {
    if (this.segments.has(segment)) return true;
    return stat(join(this.dir, segmentName(segment))).then(
      () => true,
      (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return false;
        throw err;
      },
    );
  }

  /** Every segment on disk with its size, in order; `sealed` is false for the one appends go to. */
  async list(): Promise<{ segment: number; sizeBytes: number; sealed: boolean }[]> {
    const names = (await readdir(this.dir)).filter((name) => SEGMENT_NAME.test(name)).sort();
    const found: { segment: number; sizeBytes: number; sealed: boolean }[] = [];
    for (const name of names) {
      const segment = Number.parseInt(name, 16);
      if (this.writing?.segment === segment || this.creating === segment) {
        found.push({ segment, sizeBytes: this.writing?.segment === segment ? this.writing.sizeBytes : 0, sealed: false });
        continue;
      }
      const sizeBytes = this.sealedSizes.get(segment) ?? (await stat(join(this.dir, name)).then((s) => s.size, () => null));
      if (sizeBytes === null) continue;
      this.sealedSizes.set(segment, sizeBytes);
      found.push({ segment, sizeBytes, sealed: true });
    }
    return found;
  }

  /** Finishes the appends already taken, then closes every handle (reads still open keep theirs until they close). */
  async close(): Promise<void> {
    this.closed = true;
    await this.flushing;
    // The open segment's handle is among the entries (segmentFor puts it there), closed with them.
    await this.writing?.direct?.close().catch(() => undefined);
    this.writing = null;
    for (const [segment, entry] of this.segments) {
      this.segments.delete(segment);
      entry.closeWhenIdle = true;
      if (entry.readers === 0) await closeHandle(entry);
    }
  }

  private entryFor(segment: number): OpenSegment {
    let entry = this.segments.get(segment);
    if (entry === undefined) {
      entry = { handle: null, direct: null, readers: 0, closeWhenIdle: false };
      this.segments.set(segment, entry);
    }
    return entry;
  }

  /** The entry's file, buffered or direct, opened on first use; a failed open is forgotten, so the next read tries again. */
  private fileOf(entry: OpenSegment, segment: number, direct: boolean): Promise<FileHandle> {
    const kind = direct ? 'direct' : 'handle';
    let opening = entry[kind];
    if (opening === null) {
      const opened = open(join(this.dir, segmentName(segment)), direct ? DIRECT_READ_FLAGS : 'r');
      opening = opened;
      entry[kind] = opened;
      opened.catch(() => {
        if (entry[kind] === opened) entry[kind] = null;
      });
    }
    return opening;
  }

  private async release(segment: number, entry: OpenSegment): Promise<void> {
    entry.readers -= 1;
    if (entry.readers > 0) return;
    // A sealed segment's handle is not kept once nobody reads it: the node may have thousands of segments.
    if (entry.closeWhenIdle || this.writing?.segment !== segment) {
      if (this.segments.get(segment) === entry) this.segments.delete(segment);
      await closeHandle(entry);
    }
  }

  /** Writes batches until nothing waits: each batch one writev and one fdatasync, then every append in it answered. */
  private async flush(): Promise<void> {
    for (;;) {
      if (this.waiting.length === 0) {
        // Cleared in the step that found nothing waiting, so an append after it starts a new loop.
        this.flushing = null;
        return;
      }
      const batch = this.takeBatch();
      let writing: Writing;
      try {
        writing = await this.segmentFor(batch.reduce((sum, entry) => sum + entry.lengthBytes, 0));
      } catch (err) {
        for (const entry of batch) entry.done(err as Error);
        continue;
      }
      let written: { offsets: number[]; end: number };
      try {
        written = await this.write(writing, batch);
        if (this.fsync) await writing.handle.datasync();
      } catch (err) {
        // What the file holds past `start` is not known now: no more appends go to it.
        this.seal();
        for (const entry of batch) entry.done(err as Error);
        continue;
      }
      this.writes += 1;
      this.appended += batch.length;
      batch.forEach((entry, i) => entry.done(null, { segment: writing.segment, offsetBytes: written.offsets[i] as number, lengthBytes: entry.lengthBytes }));
      writing.sizeBytes = written.end;
    }
  }

  /**
   * Writes a batch at the segment's end; returns where each image went and where the batch ends. Images
   * follow one another, except that with direct I/O each run of large images (directImage) starts on a
   * block and is written directly, from direct buffers it copies them into, and the image after it starts
   * on the next block: the padding between belongs to no image. Without a free buffer the run is
   * written through the page cache, in the same place.
   */
  private async write(writing: Writing, batch: readonly Waiting[]): Promise<{ offsets: number[]; end: number }> {
    const offsets: number[] = [];
    const goesDirect = (entry: Waiting): boolean => writing.direct !== null && directImage(entry.lengthBytes);
    let at = writing.sizeBytes;
    for (let first = 0; first < batch.length; ) {
      const direct = goesDirect(batch[first] as Waiting);
      if (direct) at = alignUp(at);
      let next = first;
      let bytes = 0;
      while (next < batch.length && goesDirect(batch[next] as Waiting) === direct) {
        offsets.push(at + bytes);
        bytes += (batch[next] as Waiting).lengthBytes;
        next += 1;
      }
      const parts = batch.slice(first, next).flatMap((entry) => entry.parts);
      if (direct) {
        await this.writeDirect(writing, parts, bytes, at);
        at = alignUp(at + bytes);
      } else {
        await writeFully(writing.handle, parts, at);
        at += bytes;
      }
      first = next;
    }
    return { offsets, end: at };
  }

  /** Writes a run of images at an aligned position through as many direct buffers as it needs and are free (at most MAX_DIRECT_STAGES), or buffered when none is. */
  private async writeDirect(writing: Writing, parts: Uint8Array[], bytes: number, at: number): Promise<void> {
    const stages: Buffer[] = [];
    while (writing.direct !== null && stages.length < MAX_DIRECT_STAGES && (stages.length === 0 || stages.length * (stages[0] as Buffer).length < bytes)) {
      const stage = this.direct?.take() ?? null;
      if (stage === null) break;
      stages.push(stage);
    }
    if (writing.direct === null || stages.length === 0) {
      await writeFully(writing.handle, parts, at);
      return;
    }
    try {
      await writeDirectAt(writing.direct, stages, parts, at);
    } finally {
      for (const stage of stages) this.direct?.release(stage);
    }
  }


  /** The waiting appends that go into the next write, oldest first: at least one, within the batch limits. */
  private takeBatch(): Waiting[] {
    let bytes = 0;
    let buffers = 0;
    let count = 0;
    while (count < this.waiting.length) {
      const next = this.waiting[count] as Waiting;
      if (count > 0 && (bytes + next.lengthBytes > this.maxBatchBytes || buffers + next.parts.length > BATCH_MAX_BUFFERS)) break;
      bytes += next.lengthBytes;
      buffers += next.parts.length;
      count += 1;
    }
    return this.waiting.splice(0, count);
  }

  /** The segment a batch of `bytes` goes to: the open one unless it is full, else a new one, created durably. */
  private async segmentFor(bytes: number): Promise<Writing> {
    await this.sealIfUnlinked();
    if (this.writing !== null && (this.writing.sizeBytes === 0 || this.writing.sizeBytes + bytes <= this.maxSegmentBytes)) return this.writing;
    this.seal();
    const segment = this.nextSegment ?? 0;
    this.nextSegment = segment + 1;
    // Until it takes appends, a listing must not take the new file for an empty sealed segment to remove.
    this.creating = segment;
    let handle: FileHandle;
    try {
      handle = await open(join(this.dir, segmentName(segment)), 'wx+');
      try {
        if (this.fsync) await syncDirectory(this.dir);
      } catch (err) {
        await handle.close().catch(() => undefined);
        throw err;
      }
    } finally {
      this.creating = null;
    }
    this.writing = { segment, handle, direct: await this.openDirect(segment), sizeBytes: 0 };
    // Reads of the open segment share its handle, which stays open while appends go to it.
    this.segments.set(segment, { handle: Promise.resolve(handle), direct: null, readers: 0, closeWhenIdle: false });
    return this.writing;
  }

  /** A new segment opened again for direct writes, when the store's probe found direct I/O works here; null otherwise. */
  private async openDirect(segment: number): Promise<FileHandle | null> {
    if (this.direct?.enabled !== true) return null;
    return open(join(this.dir, segmentName(segment)), DIRECT_WRITE_FLAGS).catch(() => null);
  }

  /**
   * Seals the open segment if its file was removed from under the node (by hand, by a tool): appends
   * would go on into a file no restart can find, and reads would keep serving it. Once sealed, its
   * handle closes, its images read as missing and the scrub has them rebuilt, as it does a deleted shard
   * file's. Every batch checks before it is written; the collector checks at each pass.
   */
  async sealIfUnlinked(): Promise<void> {
    const writing = this.writing;
    if (writing === null) return;
    const { nlink } = await writing.handle.stat();
    if (nlink === 0 && this.writing === writing) this.seal();
  }

  /** No more appends to the open segment; its handle closes once no read uses it. */
  private seal(): void {
    const writing = this.writing;
    if (writing === null) return;
    this.writing = null;
    void writing.direct?.close().catch(() => undefined);
    const entry = this.segments.get(writing.segment);
    if (entry === undefined) {
      void writing.handle.close().catch(() => undefined);
    } else if (entry.readers === 0) {
      // Its buffered handle is the one appends used; a direct one of its reads may be open too.
      this.segments.delete(writing.segment);
      void closeHandle(entry);
    } else {
      entry.closeWhenIdle = true;
    }
  }
}

async function closeHandle(entry: OpenSegment): Promise<void> {
  for (const opening of [entry.handle, entry.direct]) {
    const handle = await opening?.catch(() => null);
    await handle?.close().catch(() => undefined);
  }
}
