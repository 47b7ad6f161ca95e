/**
 * Reed-Solomon erasure coding over GF(2^8), pure and dependency-free.
 *
 * Field: polynomial x^8 + x^4 + x^3 + x^2 + 1 (0x11d), generator 2. Matrix: the (k+m) × k Vandermonde matrix
 * v[r][c] = r^c times the inverse of its top k × k block, so data shards are stored verbatim and any k shards
 * recover the rest. This is the construction of Backblaze JavaReedSolomon and klauspost/reedsolomon's default, so
 * parity is byte-compatible with theirs (known-answer tests guard it). Up to k + m = 256 shards.
 *
 * Kernels: 'portable' (table-driven TypeScript, the reference) and 'wasm-simd' (split-nibble tables with
 * i8x16.swizzle, or relaxed_swizzle where the engine has relaxed SIMD). 'auto' picks the fastest that validates.
 */
export { createCodec } from './codec.js';
export type { Codec, CodecOptions, ReconstructOptions } from './codec.js';
export { ERASURE_ERROR_CODES, ErasureError } from './errors.js';
export type { ErasureErrorCode } from './errors.js';
export { FIELD_POLYNOMIAL } from './galois.js';
export type { KernelName } from './kernels/kernel.js';
export { availableKernels, bestKernel, detectKernelSupport } from './kernels/select.js';
export type { KernelSupport } from './kernels/select.js';
export {
  join,
  objectLayout,
  split,
  stripeBlockSizeBytes,
  stripeDataBytes,
  stripeObjectOffsetBytes,
  stripeShardOffsetBytes,
  stripesForRange,
} from './layout.js';
export type { ObjectLayout, StripeRange } from './layout.js';
