import type { FileHandle } from 'node:fs/promises';
import type { BlockHasher } from './checksum.js';
import { DirectWriter, type DirectStages } from './direct-io.js';
import { CHECKSUM_BYTES, DEFAULT_CHUNK_BYTES, SHARD_HEADER_BYTES, encodeShardHeader, type ShardHeader } from './shard-format.js';

/** Writing a shard file, or an inline shard image, in the format of shard-format.ts. */

/** Target size of one positional write: a shard write is a few large syscalls, with one in flight while the next is framed. */
const WRITE_BATCH_BYTES = 512 * 1024;
/**
 * Write-behind interval of synced shard files: a shard of a 64 MiB object at 4+2 (16 MiB) is synced
 * four times as it arrives instead of all at once at its end.
 */
export const WRITE_BEHIND_BYTES = 4 * 1024 * 1024;
/** A chunk that arrived in more pieces than this is joined, so a trickling sender cannot make writev vectors huge. */
const MAX_PARTS_PER_CHUNK = 16;

/**
 * Cuts a stream of shard bytes into checksummed chunks without copying them: a chunk is the slices of
 * the pieces it spans, hashed where they lie, then its xxhash64, ready for one writev.
 */
class ChunkFramer {
  /** Shard bytes taken so far. */
  sizeBytes = 0;
  private parts: Uint8Array[] = [];
  private fill = 0;
  private scratch: Buffer | null = null;
  private readonly chunkBytes: number;
  private readonly hash: BlockHasher;

  constructor(chunkBytes: number, hash: BlockHasher) {
    this.chunkBytes = chunkBytes;
    this.hash = hash;
  }

  /**
   * Takes a piece; appends every chunk it completes (its slices, then its checksum) to `out` and returns
   * their bytes. The piece is referenced, not copied: its owner must not change it afterwards.
   */
  push(piece: Uint8Array, out: Uint8Array[]): number {
    let offset = 0;
    let framed = 0;
    this.sizeBytes += piece.length;
    while (offset < piece.length) {
      const take = Math.min(this.chunkBytes - this.fill, piece.length - offset);
      this.parts.push(take === piece.length ? piece : piece.subarray(offset, offset + take));
      this.fill += take;
      offset += take;
      if (this.fill === this.chunkBytes) framed += this.seal(out);
    }
    return framed;
  }

  /** Seals the last, shorter chunk if there is one. */
  finish(out: Uint8Array[]): number {
    return this.fill > 0 ? this.seal(out) : 0;
  }

  private seal(out: Uint8Array[]): number {
    const parts = this.parts.length > MAX_PARTS_PER_CHUNK ? [Buffer.concat(this.parts, this.fill)] : this.parts;
    const sum = Buffer.allocUnsafe(CHECKSUM_BYTES);
    sum.writeBigUInt64LE(this.digest(parts));
    for (const part of parts) out.push(part);
    out.push(sum);
    const framed = this.fill + CHECKSUM_BYTES;
    this.parts = [];
    this.fill = 0;
    return framed;
  }

  private digest(parts: readonly Uint8Array[]): bigint {
    if (parts.length === 1) return this.hash(parts[0] as Uint8Array);
    if (this.hash.pieces !== undefined) return this.hash.pieces(parts);
    // A hasher without a piecewise form hashes a joined copy; the slices are still what is written.
    this.scratch ??= Buffer.allocUnsafe(this.chunkBytes);
    let at = 0;
    for (const part of parts) {
      this.scratch.set(part, at);
      at += part.length;
    }
    return this.hash(this.scratch.subarray(0, at));
  }
}

/**
 * Writes a streamed shard into an open file: rechunks the input, appends a checksum after each chunk,
 * and writes the header last. Returns the shard's size. The caller fsyncs and renames.
 *
 * Writes are pipelined: one positional writev of framed chunks is in flight while the next batch is
 * read and hashed, and the next waits for it, so at most two batches are held (backpressure on the source).
 * With `writeBehindBytes`, a datasync starts in the background each time that much more has been
 * written (write-behind): the disk writes a large shard while the rest is still arriving, instead of
 * all of it in the caller's final fsync. A failed write-behind sync fails the write. With `direct`, the
 * file was opened with O_DIRECT and is written from those two aligned buffers (direct-io.ts); the
 * bytes then reach the disk as they are written, and the file ends up the same.
 */
export async function writeShardFile(
  handle: FileHandle,
  source: AsyncIterable<Uint8Array>,
  header: Omit<ShardHeader, 'shardSizeBytes' | 'chunkBytes'>,
  hash: BlockHasher,
  chunkBytes = DEFAULT_CHUNK_BYTES,
  options: { writeBehindBytes?: number; direct?: DirectStages } = {},
): Promise<number> {
  const framer = new ChunkFramer(chunkBytes, hash);
  const writer: ShardFileSink =
    options.direct === undefined ? new PipelinedWriter(handle, SHARD_HEADER_BYTES, options.writeBehindBytes ?? 0) : new DirectWriter(handle, options.direct, SHARD_HEADER_BYTES);
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  const take = (): [Uint8Array[], number] => {
    const taken: [Uint8Array[], number] = [pending, pendingBytes];
    pending = [];
    pendingBytes = 0;
    return taken;
  };
  try {
    for await (const piece of source) {
      pendingBytes += framer.push(piece, pending);
      if (pendingBytes >= WRITE_BATCH_BYTES) await writer.write(...take());
    }
    pendingBytes += framer.finish(pending);
    const head = encodeShardHeader({ ...header, chunkBytes, shardSizeBytes: framer.sizeBytes }, hash);
    await writer.finish(head, ...take());
    return framer.sizeBytes;
  } catch (err) {
    // The caller closes and removes the file next: no write of ours may still be using it.
    await writer.settle();
    throw err;
  }
}

/** Where writeShardFile puts a shard file: the framed chunks in order after the header's place, then the header. */
export interface ShardFileSink {
  /** Takes the next framed bytes; resolves when the sink can take more (backpressure). */
  write(buffers: Uint8Array[], bytes: number): Promise<void>;
  /** Takes the last framed bytes and the header, and resolves once every byte is written. */
  finish(head: Buffer, buffers: Uint8Array[], bytes: number): Promise<void>;
  /** Waits until no write is using the file, whatever the outcome. */
  settle(): Promise<void>;
}

/**
 * Consecutive positional writes with at most one in flight: the caller frames the next batch meanwhile.
 * Every `writeBehindBytes` written (0: never), a datasync of what is written so far starts in the
 * background, at most one at a time; its error is kept and thrown by drain(), never lost.
 */
class PipelinedWriter implements ShardFileSink {
  private readonly handle: FileHandle;
  private readonly writeBehindBytes: number;
  private position: number;
  private inFlight: Promise<void> | null = null;
  private inFlightBytes = 0;
  private unsyncedBytes = 0;
  private syncing: Promise<void> | null = null;
  private syncFailed: { error: unknown } | null = null;

  /** Whether any write was started. */
  private get started(): boolean {
    return this.inFlight !== null;
  }

  constructor(handle: FileHandle, position: number, writeBehindBytes = 0) {
    this.handle = handle;
    this.position = position;
    this.writeBehindBytes = writeBehindBytes;
  }

  /** Waits for the write in flight (throwing its error), then starts writing `buffers` after it. */
  async write(buffers: Uint8Array[], bytes: number): Promise<void> {
    if (bytes === 0) return;
    const at = this.position;
    this.position += bytes;
    await this.inFlight;
    this.writeBehind();
    const started = writeFully(this.handle, buffers, at);
    // Awaited by the next write or drain(); meanwhile its failure must not count as unhandled.
    started.catch(() => undefined);
    this.inFlight = started;
    this.inFlightBytes = bytes;
  }

  /** Writes the rest, then the header at the start: a shard of one batch (most are) is one write, header included. */
  async finish(head: Buffer, buffers: Uint8Array[], bytes: number): Promise<void> {
    if (!this.started) {
      await writeFully(this.handle, [head, ...buffers], 0);
      return;
    }
    await this.write(buffers, bytes);
    await this.drain();
    await writeFully(this.handle, [head], 0);
  }

  /** Waits for the write in flight and any write-behind sync, throwing the first error of either. */
  private async drain(): Promise<void> {
    await this.inFlight;
    await this.syncing;
    if (this.syncFailed !== null) throw this.syncFailed.error;
  }

  /** Waits for the write in flight and any write-behind sync, whatever their outcome. */
  async settle(): Promise<void> {
    await this.inFlight?.catch(() => undefined);
    await this.syncing;
  }

  /** Called once the previous write has landed: starts a background datasync when enough is unsynced. */
  private writeBehind(): void {
    this.unsyncedBytes += this.inFlightBytes;
    this.inFlightBytes = 0;
    if (this.writeBehindBytes === 0 || this.unsyncedBytes < this.writeBehindBytes || this.syncing !== null) return;
    this.unsyncedBytes = 0;
    this.syncing = this.handle.datasync().then(
      () => {
        this.syncing = null;
      },
      (error: unknown) => {
        this.syncing = null;
        this.syncFailed ??= { error };
      },
    );
  }
}

/**
 * Writes every byte of `buffers` at `position`. A nearly full disk can accept part of a write without
 * an error; the rest is retried, which then fails with ENOSPC instead of leaving a short shard.
 */
export async function writeFully(handle: FileHandle, buffers: Uint8Array[], position: number): Promise<void> {
  let pending = buffers;
  let at = position;
  while (pending.length > 0) {
    const total = pending.reduce((sum, buffer) => sum + buffer.length, 0);
    const { bytesWritten } = await handle.writev(pending, at);
    if (bytesWritten === total) return;
    if (bytesWritten === 0) throw Object.assign(new Error('no bytes written'), { code: 'EIO' });
    at += bytesWritten;
    let skip = bytesWritten;
    const rest: Uint8Array[] = [];
    for (const buffer of pending) {
      if (skip >= buffer.length) {
        skip -= buffer.length;
        continue;
      }
      rest.push(skip > 0 ? buffer.subarray(skip) : buffer);
      skip = 0;
    }
    pending = rest;
  }
}

/**
 * A small shard's shard-file image as the buffers that make it up, in order: the header, then each
 * chunk and its checksum, framed as writeShardFile frames a stream (ChunkFramer: a chunk is views of
 * the pieces it lies in, not a copy). For a writer that hands the list to one `writev` (the segment
 * log), so a shard's bytes go from the request to the file without being gathered into an image
 * first; the pieces must not change until that write is done.
 */
export function shardImageParts(
  pieces: readonly Uint8Array[],
  header: Omit<ShardHeader, 'shardSizeBytes' | 'chunkBytes'>,
  hash: BlockHasher,
  chunkBytes = DEFAULT_CHUNK_BYTES,
): Uint8Array[] {
  const framer = new ChunkFramer(chunkBytes, hash);
  const framed: Uint8Array[] = [];
  for (const piece of pieces) framer.push(piece, framed);
  framer.finish(framed);
  return [encodeShardHeader({ ...header, chunkBytes, shardSizeBytes: framer.sizeBytes }, hash), ...framed];
}

/** The whole shard-file image of a small shard held in memory: what an inline shard stores in LevelDB. */
export function encodeShardImage(
  pieces: readonly Uint8Array[],
  header: Omit<ShardHeader, 'shardSizeBytes' | 'chunkBytes'>,
  hash: BlockHasher,
  chunkBytes = DEFAULT_CHUNK_BYTES,
): Buffer {
  return Buffer.concat(shardImageParts(pieces, header, hash, chunkBytes));
}
