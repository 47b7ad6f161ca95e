import { TesseraError } from '../common/index.js';

/** Failures of the shard store that the node server maps onto wire errors. */
export type ShardStoreErrorCode = 'NotFound' | 'Conflict' | 'NoSpace' | 'IoError';

/** A typed shard store failure. */
export class ShardStoreError extends TesseraError<ShardStoreErrorCode> {}

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
