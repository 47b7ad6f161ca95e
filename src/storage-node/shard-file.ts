import type { FileHandle } from 'node:fs/promises';
import type { BlockHasher } from './checksum.js';
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
 * (positional write before fsync) because a streamed shard's size is only known at its end.
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

/** Serialises a header; the inverse of decodeShardHeader. */
export function encodeShardHeader(header: ShardHeader, hash: BlockHasher): Buffer {
  const bytes = Buffer.alloc(SHARD_HEADER_BYTES);
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

/** Target size of one positional write: batches chunks so a shard write is a few large syscalls. */
const WRITE_BATCH_BYTES = 1024 * 1024;

/**
 * Cuts a stream of shard bytes into checksummed chunks: payload then its xxhash64. Shared by the file
 * writer and the inline encoder, so a shard kept in LevelDB has exactly the bytes a shard file has.
 */
class ChunkFramer {
  /** Shard bytes taken so far. */
  sizeBytes = 0;
  private chunk: Buffer;
  private fill = 0;
  private readonly chunkBytes: number;
  private readonly hash: BlockHasher;

  constructor(chunkBytes: number, hash: BlockHasher) {
    this.chunkBytes = chunkBytes;
    this.hash = hash;
    this.chunk = Buffer.allocUnsafe(chunkBytes);
  }

  /** Takes a piece; appends every chunk it completes (payload, checksum) to `out` and returns their bytes. */
  push(piece: Uint8Array, out: Buffer[]): number {
    let offset = 0;
    let framed = 0;
    this.sizeBytes += piece.length;
    while (offset < piece.length) {
      const take = Math.min(this.chunkBytes - this.fill, piece.length - offset);
      this.chunk.set(piece.subarray(offset, offset + take), this.fill);
      this.fill += take;
      offset += take;
      if (this.fill === this.chunkBytes) framed += this.seal(out);
    }
    return framed;
  }

  /** Seals the last, shorter chunk if there is one. */
  finish(out: Buffer[]): number {
    return this.fill > 0 ? this.seal(out) : 0;
  }

  private seal(out: Buffer[]): number {
    const payload = this.chunk.subarray(0, this.fill);
    const sum = Buffer.allocUnsafe(CHECKSUM_BYTES);
    sum.writeBigUInt64LE(this.hash(payload));
    out.push(payload, sum);
    const framed = this.fill + CHECKSUM_BYTES;
    this.chunk = Buffer.allocUnsafe(this.chunkBytes);
    this.fill = 0;
    return framed;
  }
}

/**
 * Writes a streamed shard into an open file: rechunks the input, appends a checksum after each chunk,
 * and writes the header last. Returns the shard's size. The caller fsyncs and renames.
 */
export async function writeShardFile(
  handle: FileHandle,
  source: AsyncIterable<Uint8Array>,
  header: Omit<ShardHeader, 'shardSizeBytes' | 'chunkBytes'>,
  hash: BlockHasher,
  chunkBytes = DEFAULT_CHUNK_BYTES,
): Promise<number> {
  const framer = new ChunkFramer(chunkBytes, hash);
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let position = SHARD_HEADER_BYTES;
  const flush = async (): Promise<void> => {
    if (pendingBytes === 0) return;
    const buffers = pending;
    const bytes = pendingBytes;
    pending = [];
    pendingBytes = 0;
    await writeFully(handle, buffers, position);
    position += bytes;
  };
  for await (const piece of source) {
    pendingBytes += framer.push(piece, pending);
    if (pendingBytes >= WRITE_BATCH_BYTES) await flush();
  }
  pendingBytes += framer.finish(pending);
  await flush();
  const shardSizeBytes = framer.sizeBytes;
  await writeFully(handle, [encodeShardHeader({ ...header, chunkBytes, shardSizeBytes }, hash)], 0);
  return shardSizeBytes;
}

/**
 * Writes every byte of `buffers` at `position`. A nearly full disk can accept part of a write without
 * an error; the rest is retried, which then fails with ENOSPC instead of leaving a short shard.
 */
async function writeFully(handle: FileHandle, buffers: Buffer[], position: number): Promise<void> {
  let pending = buffers;
  let at = position;
  while (pending.length > 0) {
    const total = pending.reduce((sum, buffer) => sum + buffer.length, 0);
    const { bytesWritten } = await handle.writev(pending, at);
    if (bytesWritten === total) return;
    if (bytesWritten === 0) throw Object.assign(new Error('no bytes written'), { code: 'EIO' });
    at += bytesWritten;
    let skip = bytesWritten;
    const rest: Buffer[] = [];
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

/** The whole shard-file image of a small shard held in memory: what an inline shard stores in LevelDB. */
export function encodeShardImage(
  pieces: readonly Uint8Array[],
  header: Omit<ShardHeader, 'shardSizeBytes' | 'chunkBytes'>,
  hash: BlockHasher,
  chunkBytes = DEFAULT_CHUNK_BYTES,
): Buffer {
  const framer = new ChunkFramer(chunkBytes, hash);
  const framed: Buffer[] = [];
  for (const piece of pieces) framer.push(piece, framed);
  framer.finish(framed);
  const head = encodeShardHeader({ ...header, chunkBytes, shardSizeBytes: framer.sizeBytes }, hash);
  return Buffer.concat([head, ...framed]);
}

/** Positional reads: a FileHandle, or a shard image in memory (bufferSource). */
export interface PositionalSource {
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
}

/** A shard image held in memory (an inline shard) read through the same verified path as a file. */
export function bufferSource(image: Buffer): PositionalSource {
  return {
    read: async (buffer, offset, length, position) => {
      const bytesRead = Math.max(0, Math.min(length, image.length - position));
      if (bytesRead > 0) image.copy(buffer, offset, position, position + bytesRead);
      return { bytesRead };
    },
  };
}

/** Reads and checks the header of a shard file or image. */
export async function readShardHeader(source: PositionalSource, hash: BlockHasher): Promise<ShardHeader> {
  const bytes = Buffer.alloc(SHARD_HEADER_BYTES);
  const { bytesRead } = await source.read(bytes, 0, SHARD_HEADER_BYTES, 0);
  return decodeShardHeader(bytes.subarray(0, bytesRead), hash);
}

/** Chunks read per positional read: about 1 MiB, so a large range is a few syscalls. */
const READ_BATCH_CHUNKS = 16;

/**
 * Yields `lengthBytes` of the shard from `offsetBytes`, verifying every chunk it touches and reading
 * no other chunk. Throws ShardCorruptError on the first chunk that does not match its checksum,
 * before yielding it.
 */
export async function* readShardRange(
  source: PositionalSource,
  header: ShardHeader,
  offsetBytes: number,
  lengthBytes: number,
  hash: BlockHasher,
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
    const buffer = Buffer.allocUnsafe(fileBytes);
    const { bytesRead } = await source.read(buffer, 0, fileBytes, chunkPosition(chunkIndex, chunkBytes));
    if (bytesRead !== fileBytes) throw new ShardCorruptError('shard file truncated');
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
    chunkIndex += count;
  }
}
