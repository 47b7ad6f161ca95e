import type { BlockHasher } from './checksum.js';
import type { ReadBufferPool } from './read-buffer-pool.js';
import { CHECKSUM_BYTES, DEFAULT_CHUNK_BYTES, SHARD_HEADER_BYTES, ShardCorruptError, chunkPosition, decodeShardHeader, type ShardHeader } from './shard-format.js';

/**
 * Shard files: reading them here, every chunk verified against its checksum; their format is in
 * shard-format.ts and their writing in shard-file-writer.ts, both re-exported so the store and its
 * tests reach a shard file through this one module.
 */
export {
  CHECKSUM_BYTES,
  DEFAULT_CHUNK_BYTES,
  SHARD_FORMAT_VERSION,
  SHARD_HEADER_BYTES,
  SHARD_MAGIC,
  ShardCorruptError,
  decodeShardHeader,
  encodeShardHeader,
  type ShardHeader,
} from './shard-format.js';
export { WRITE_BEHIND_BYTES, encodeShardImage, shardImageParts, writeFully, writeShardFile, type ShardFileSink } from './shard-file-writer.js';

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
