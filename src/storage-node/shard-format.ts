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
export function chunkPosition(chunkIndex: number, chunkBytes: number): number {
  return SHARD_HEADER_BYTES + chunkIndex * (chunkBytes + CHECKSUM_BYTES);
}
