import { TesseraError } from '../common/index.js';

/** Every code the erasure library throws, with the rule each one names. */
export const ERASURE_ERROR_CODES = {
  InvalidCodecParameters: 'data and parity shard counts must be integers with 1 <= k, 0 <= m, k + m <= 256',
  KernelUnavailable: 'the requested kernel cannot run on this runtime',
  ShardCountMismatch: 'the shard array must hold exactly k + m entries',
  ShardSizeMismatch: 'all shards must have the same length',
  TooFewShards: 'at least k shards must be present',
  InvalidLayout: 'layout arguments must be non-negative safe integers within bounds',
} as const;

/** Union of the stable codes an ErasureError carries. */
export type ErasureErrorCode = keyof typeof ERASURE_ERROR_CODES;

/** Error thrown by the erasure library; branch on `code`. */
export class ErasureError extends TesseraError<ErasureErrorCode> {
  constructor(code: ErasureErrorCode, detail: string) {
    super(code, `${ERASURE_ERROR_CODES[code]}: ${detail}`);
  }
}
