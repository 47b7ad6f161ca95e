import type { FileHandle } from 'node:fs/promises';
import type { BlockHasher } from './checksum.js';
import type { ReadBufferPool } from './read-buffer-pool.js';
import { DirectWriter, type DirectStages } from './direct-io.js';
import { ShardStoreError } from './shard-store-error.js';

/**
 * Shard file format, version 1.
 *
 *   header (64 bytes)
 *     0  magic "TSHD"            4  format version u16     6  shard index u16
 *     8  data shards u16        10  parity shards u16     12  checksum chunk bytes u32
 *    16  EC block bytes u32     20  reserved u32          24  shard size bytes u64
 *    32  version id (24 ASCII)  56  xxhash64 of bytes 0..55
 *   then the shard as chunks of `checksum chunk bytes` (the last one shorter), each followed by its
 *   xxhash64 (8 bytes, little-endian).
 *
 * A reader verifies every chunk it returns, so bitrot is found on the read path and never served.
 * Small shards kept inline in LevelDB store this same image (header and checksummed chunks) as the
 * row's value, so both kinds are read and verified by one code path. The header is written last
 * (positional write before fsync) because a streamed shard's size is only known at its end; a shard
 * that fits one write batch goes to disk as one write, header included.
 */
/** "TSHD" read as a little-endian u32: the first bytes of every shard file and inline image. */
export const SHARD_MAGIC = 0x44485354;
/** Bumped when the layout changes; readers refuse versions they do not know. */
export const SHARD_FORMAT_VERSION = 1;
/** Size of the fixed header before the first chunk. */
export const SHARD_HEADER_BYTES = 64;
/** Size of the xxhash64 after each chunk. */
export const CHECKSUM_BYTES = 8;
/** Size of a checksummed chunk: small enough that a ranged read wastes little, large enough that hashing stays cheap. */
export const DEFAULT_CHUNK_BYTES = 64 * 1024;

/** Fields of a shard file header. */
export interface ShardHeader {
  shardIndex: number;
  dataShards: number;
  parityShards: number;
  chunkBytes: number;
  blockSizeBytes: number;
  shardSizeBytes: number;
  versionId: string;
}

/** A shard file whose bytes do not match their checksums, or whose header is unreadable. */
export class ShardCorruptError extends ShardStoreError<'ShardCorrupt'> {
  constructor(message: string) {
    super('ShardCorrupt', message);
  }
}

/** Serialises a header, into `target` when given (its first SHARD_HEADER_BYTES); the inverse of decodeShardHeader. */
export function encodeShardHeader(header: ShardHeader, hash: BlockHasher, target?: Buffer): Buffer {
  const bytes = target === undefined ? Buffer.alloc(SHARD_HEADER_BYTES) : target.subarray(0, SHARD_HEADER_BYTES).fill(0);
  bytes.writeUInt32LE(SHARD_MAGIC, 0);
  bytes.writeUInt16LE(SHARD_FORMAT_VERSION, 4);
  bytes.writeUInt16LE(header.shardIndex, 6);
  bytes.writeUInt16LE(header.dataShards, 8);
  bytes.writeUInt16LE(header.parityShards, 10);
  bytes.writeUInt32LE(header.chunkBytes, 12);
  bytes.writeUInt32LE(header.blockSizeBytes, 16);
  bytes.writeBigUInt64LE(BigInt(header.shardSizeBytes), 24);
  bytes.write(header.versionId, 32, 24, 'latin1');
  bytes.writeBigUInt64LE(hash(bytes.subarray(0, 56)), 56);
  return bytes;
}

/** Parses and checks a header; throws ShardCorruptError when anything is off. */
export function decodeShardHeader(bytes: Buffer, hash: BlockHasher): ShardHeader {
  if (bytes.length < SHARD_HEADER_BYTES) throw new ShardCorruptError('shard header truncated');
  if (bytes.readUInt32LE(0) !== SHARD_MAGIC) throw new ShardCorruptError('not a shard file');
  if (bytes.readUInt16LE(4) !== SHARD_FORMAT_VERSION) throw new ShardCorruptError('unknown shard format version');
  if (bytes.readBigUInt64LE(56) !== hash(bytes.subarray(0, 56))) throw new ShardCorruptError('shard header checksum mismatch');
  if (bytes.readUInt32LE(12) === 0) throw new ShardCorruptError('shard header names no chunk size');
  return {
    shardIndex: bytes.readUInt16LE(6),
    dataShards: bytes.readUInt16LE(8),
    parityShards: bytes.readUInt16LE(10),
    chunkBytes: bytes.readUInt32LE(12),
    blockSizeBytes: bytes.readUInt32LE(16),
    shardSizeBytes: Number(bytes.readBigUInt64LE(24)),
    versionId: bytes.toString('latin1', 32, 56),
  };
}

/** Where a chunk's payload and checksum sit in the file. */
function chunkPosition(chunkIndex: number, chunkBytes: number): number {
  return SHARD_HEADER_BYTES + chunkIndex * (chunkBytes + CHECKSUM_BYTES);
}

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

/** Chunks read per positional read: about 1 MiB, so a large range is a few syscalls. */
const READ_BATCH_CHUNKS = 16;

/** Sizes that hold a read batch (and the header read with the first) of 1, 2, 4, 8 or 16 default chunks: a ReadBufferPool's classes. */
export const READ_BATCH_CLASS_BYTES: readonly number[] = [1, 2, 4, 8, READ_BATCH_CHUNKS].map((chunks) => SHARD_HEADER_BYTES + chunks * (DEFAULT_CHUNK_BYTES + CHECKSUM_BYTES));

/** Positional reads: a FileHandle, or a shard image in memory (bufferSource). */
export interface PositionalSource {
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  /** Bytes [position, position + length) when they are in memory already (shorter past the end), without copying; null when they must be read. */
  view?(position: number, length: number): Buffer | null;
  /**
   * Bytes [position, position + length) read into the source's own memory and handed out as a view
   * (shorter past the end), valid only until the source's next read; null when they cannot be. Used
   * only by a transient read (ChunkMemory), whose consumer is done with a chunk once it asks for the next.
   */
  readView?(position: number, length: number): Promise<Buffer | null>;
}

/** A shard image held in memory (an inline shard) read through the same verified path as a file, without copies. */
export function bufferSource(image: Buffer): PositionalSource {
  return {
    read: async (buffer, offset, length, position) => {
      const bytesRead = Math.max(0, Math.min(length, image.length - position));
      if (bytesRead > 0) image.copy(buffer, offset, position, position + bytesRead);
      return { bytesRead };
    },
    view: (position, length) => image.subarray(Math.min(position, image.length), Math.min(position + length, image.length)),
  };
}

/** Bytes [position, position + length) of a source, shorter when it ends first. */
async function readAt(source: PositionalSource, position: number, length: number): Promise<Buffer> {
  return (await readBatch(source, position, length, {})).bytes;
}

/**
 * Where a shard read puts the batches it reads, which decides how long its consumer may hold a chunk:
 * - by default, fresh memory: the consumer's to keep;
 * - `pool`: the pool's buffers, each released once its batch's last chunk has been yielded, so the
 *   consumer must retain what it still needs (read-buffer-pool.ts): a writer to a socket;
 * - `transient`: views of the source's own memory where it can read into it (a direct read's aligned
 *   buffer), each valid only until the consumer asks for the next chunk, so only a consumer that
 *   copies every chunk before that and keeps none may ask for it (an in-process link). Batches the
 *   source cannot read so go to the pool, or fresh memory.
 */
export interface ChunkMemory {
  pool?: ReadBufferPool | undefined;
  transient?: boolean | undefined;
}

/**
 * Bytes [position, position + length) of a source (shorter when it ends first): a view when the source
 * holds them (or, `transient`, can read them into its own memory), otherwise read into the memory
 * `into` names. The caller releases `pooled` (the buffer it holds a reference to) when it is done with the bytes.
 */
async function readBatch(source: PositionalSource, position: number, length: number, into: ChunkMemory): Promise<{ bytes: Buffer; pooled: Buffer | null }> {
  const { pool } = into;
  const view = source.view?.(position, length) ?? (into.transient === true ? await source.readView?.(position, length) : undefined);
  if (view !== undefined && view !== null) return { bytes: view, pooled: null };
  const buffer = pool?.take(length) ?? Buffer.allocUnsafe(length);
  try {
    const { bytesRead } = await source.read(buffer, 0, length, position);
    return { bytes: buffer.subarray(0, bytesRead), pooled: pool === undefined ? null : buffer };
  } catch (err) {
    pool?.release(buffer);
    throw err;
  }
}

/** Reads and checks the header of a shard file or image. */
export async function readShardHeader(source: PositionalSource, hash: BlockHasher): Promise<ShardHeader> {
  return decodeShardHeader(await readAt(source, 0, SHARD_HEADER_BYTES), hash);
}

/**
 * Reads and checks the header, and in the same read the first batch readShardRange(offsetBytes,
 * lengthBytes) will want when the range starts in the first chunk (a whole-shard read): one read
 * fewer per shard. `shardSizeBytes` is the size the caller expects (its metadata row's), so a small
 * shard reads no more than it holds. Returns the header and a source that serves those bytes from memory.
 * `into` as for readShardRange: the prefetched batch goes where its chunks would have.
 */
export async function readShardHeaderAhead(
  source: PositionalSource,
  hash: BlockHasher,
  offsetBytes: number,
  lengthBytes: number,
  shardSizeBytes: number,
  into: ChunkMemory = {},
): Promise<{ header: ShardHeader; source: PositionalSource; release: () => void }> {
  // The chunk size is in the header: assume the default; with another one the prefetch is merely less useful.
  const chunkBytes = DEFAULT_CHUNK_BYTES;
  const endBytes = Math.min(offsetBytes + lengthBytes, shardSizeBytes);
  const chunks = offsetBytes < chunkBytes && endBytes > 0 ? Math.min(READ_BATCH_CHUNKS, Math.ceil(endBytes / chunkBytes)) : 0;
  const prefetchBytes = Math.min(chunks * chunkBytes, shardSizeBytes) + chunks * CHECKSUM_BYTES;
  const { bytes: head, pooled } = await readBatch(source, 0, SHARD_HEADER_BYTES + prefetchBytes, chunks === 0 ? {} : into);
  const release = (): void => {
    if (pooled !== null) into.pool?.release(pooled);
  };
  try {
    const header = decodeShardHeader(head, hash);
    if (chunks === 0) return { header, source, release };
    return {
      header,
      source: {
        read: (buffer, offset, length, position) => source.read(buffer, offset, length, position),
        view: (position, length) => (position + length <= head.length ? head.subarray(position, position + length) : (source.view?.(position, length) ?? null)),
        ...(source.readView === undefined ? {} : { readView: source.readView.bind(source) }),
      },
      release,
    };
  } catch (err) {
    release();
    throw err;
  }
}

/**
 * Yields `lengthBytes` of the shard from `offsetBytes`, verifying every chunk it touches and reading
 * no other chunk. Throws ShardCorruptError on the first chunk that does not match its checksum,
 * before yielding it. `into` says where batches are read, and so how long the consumer may hold a
 * chunk (ChunkMemory).
 */
export async function* readShardRange(
  source: PositionalSource,
  header: ShardHeader,
  offsetBytes: number,
  lengthBytes: number,
  hash: BlockHasher,
  into: ChunkMemory = {},
): AsyncGenerator<Buffer> {
  const end = Math.min(offsetBytes + lengthBytes, header.shardSizeBytes);
  if (offsetBytes >= end) return;
  const { chunkBytes } = header;
  const stride = chunkBytes + CHECKSUM_BYTES;
  let chunkIndex = Math.floor(offsetBytes / chunkBytes);
  const lastChunk = Math.floor((end - 1) / chunkBytes);
  while (chunkIndex <= lastChunk) {
    const count = Math.min(READ_BATCH_CHUNKS, lastChunk - chunkIndex + 1);
    const firstShardByte = chunkIndex * chunkBytes;
    const batchShardBytes = Math.min(count * chunkBytes, header.shardSizeBytes - firstShardByte);
    const fileBytes = batchShardBytes + count * CHECKSUM_BYTES;
    const { bytes: buffer, pooled } = await readBatch(source, chunkPosition(chunkIndex, chunkBytes), fileBytes, into);
    try {
      if (buffer.length !== fileBytes) throw new ShardCorruptError('shard file truncated');
      for (let i = 0; i < count; i += 1) {
        const start = i * stride;
        const payloadBytes = Math.min(chunkBytes, batchShardBytes - i * chunkBytes);
        const payload = buffer.subarray(start, start + payloadBytes);
        if (buffer.readBigUInt64LE(start + payloadBytes) !== hash(payload)) {
          throw new ShardCorruptError(`checksum mismatch in chunk ${chunkIndex + i}`);
        }
        const chunkStart = (chunkIndex + i) * chunkBytes;
        const from = Math.max(offsetBytes, chunkStart) - chunkStart;
        const to = Math.min(end, chunkStart + payloadBytes) - chunkStart;
        yield payload.subarray(from, to);
      }
    } finally {
      if (pooled !== null) into.pool?.release(pooled);
    }
    chunkIndex += count;
  }
}
