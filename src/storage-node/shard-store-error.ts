import { TesseraError } from '../common/index.js';
import type { WireErrorCode } from '../rpc/index.js';

/**
 * Every failure a storage node raises on purpose, with the wire code the node server answers it with
 * (storage codes never travel themselves). The one error family of the storage node.
 */
export const SHARD_STORE_WIRE_CODES = {
  NotFound: 'NotFound',
  Conflict: 'Conflict',
  /** The version is under Object Lock (legal hold or retention): it may not be removed. */
  Locked: 'Conflict',
  NoSpace: 'InsufficientStorage',
  IoError: 'Internal',
  /** A shard's bytes or header do not match their checksums. */
  ShardCorrupt: 'ChecksumMismatch',
  /** Metadata writes stopped after a failed one, until a restart. */
  WriteFenced: 'Unavailable',
  /** A commit into a bucket this node holds as deleted, or as created again since the write's record. */
  BucketGone: 'Gone',
  /** A commit into a bucket that DeleteBucket is checking for emptiness: retried, it finds the bucket gone or reopened. */
  BucketClosing: 'Unavailable',
  /** Repair: a source node failed to deliver its shard. */
  SourceFailed: 'Internal',
  /** Repair: fewer than k shards are readable. */
  NotEnoughSources: 'Internal',
} as const satisfies Record<string, WireErrorCode>;

/** The codes of storage node failures. */
export type ShardStoreErrorCode = keyof typeof SHARD_STORE_WIRE_CODES;

/** A typed storage node failure; subclasses add fields, never a second family. */
export class ShardStoreError<C extends ShardStoreErrorCode = ShardStoreErrorCode> extends TesseraError<C> {
  /** The wire code a node answers this failure with. */
  get wireCode(): WireErrorCode {
    return SHARD_STORE_WIRE_CODES[this.code];
  }
}

/** True for a disk-full failure: ENOSPC/EDQUOT from fs, or LevelDB's I/O error for the same cause. */
export function isNoSpace(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') return true;
  // LevelDB reports every write failure as LEVEL_IO_ERROR; only its message carries the errno text.
  return code === 'LEVEL_IO_ERROR' && /no space left|quota exceeded/i.test(String((err as Error).message));
}

/** True for an I/O failure of the disk or of LevelDB (as opposed to a bug or a bad request). */
export function isIoError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'EIO' || code === 'EROFS' || code === 'LEVEL_IO_ERROR' || code === 'LEVEL_CORRUPTION';
}
