import type { Logger } from '../../common/index.js';
import type { BlockHasher } from '../checksum.js';

/**
 * Largest shard kept inline in LevelDB rather than in a file: 32 KiB of shard, a 128 KiB object at
 * 4+2 (64 KiB at 2+1, 256 KiB at 8+4). Measured with `npm run bench:shard` (fsync on, 16 writes in
 * flight): inline writes are 1.5-6x the file path's up to 32 KiB (a share of a group-committed
 * LevelDB sync instead of file fsync + rename + directory fsync + that share) and reads are faster
 * too; at 64-128 KiB the two are about even, and at 256 KiB inline loses on writes (0.4-0.5x) and
 * reads, because LevelDB writes every byte again at each flush and compaction and a ranged read must
 * load the whole value. The threshold is per shard, not per object, because that is what the node writes.
 */
export const DEFAULT_INLINE_MAX_SHARD_BYTES = 32 * 1024;
/**
 * Largest shard appended to a segment rather than written to a file of its own: 1 MiB, an object of up
 * to 4 MiB at 4+2. Measured with `npx tsx bench/segment-vs-files.ts` (docs/shard-packing.md): a 256 KiB
 * shard appended with a shared fdatasync costs 0.28x the CPU of a file of its own. The prepare holds a
 * segment shard in memory until it ends, so the threshold also bounds what each write may buffer.
 */
export const DEFAULT_SEGMENT_MAX_SHARD_BYTES = 1024 * 1024;
/** The largest segment shard threshold a store takes: 64 MiB, far above any useful one, far below what a place can name. */
export const MAX_SEGMENT_SHARD_BYTES = 64 * 1024 * 1024;
/** How old a prepared, uncommitted shard must be before recovery drops it: far longer than any prepare-to-commit gap. */
export const DEFAULT_PREPARED_GRACE_MS = 15 * 60 * 1000;

/** Construction parameters of a shard store. */
export interface ShardStoreOptions {
  dataDir: string;
  hash: BlockHasher;
  logger: Logger;
  /** Refuse new shards when the disk has less than this free (a full disk must fail cleanly). */
  reserveBytes?: number;
  /** Total shard bytes this node may hold; unlimited when absent. */
  capacityBytes?: number;
  /** Shards up to this size live in LevelDB, larger ones in segments or files; 0 keeps none inline. */
  inlineMaxShardBytes?: number;
  /** Shards above the inline threshold and up to this size are appended to segments; 0 keeps them in files. */
  segmentMaxShardBytes?: number;
  /** A segment takes appends until it holds this much (DEFAULT_SEGMENT_MAX_BYTES). */
  segmentSizeBytes?: number;
  /** Memory all prepares together may hold while deciding whether a shard fits a segment (shard-preparer.ts). */
  readAheadBudgetBytes?: number;
  /** Prepared shards older than this are dropped at start-up. */
  preparedGraceMs?: number;
  /** Memory for metadata rows that reads answer from without LevelDB (DEFAULTS.rowCacheBytes); 0 keeps none. */
  rowCacheBytes?: number | undefined;
  /** LevelDB's write buffer (DEFAULTS.metadataWriteBufferBytes). */
  metadataWriteBufferBytes?: number | undefined;
  /** False skips every fsync (files, directories, LevelDB): for benchmarks only, never for data that matters. */
  fsync?: boolean;
  /** Memory for reading and writing shard files past the page cache (DEFAULTS.directIoMemoryBytes, direct-io.ts); 0 keeps them in it. */
  directIoMemoryBytes?: number;
  clock?: () => number;
}
