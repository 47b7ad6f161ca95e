/**
 * Reed-Solomon erasure coding over GF(2^8), pure and dependency-free.
 *
 * Field: polynomial x^8 + x^4 + x^3 + x^2 + 1 (0x11d), generator 2. Matrix: the (k+m) × k Vandermonde matrix
 * v[r][c] = r^c times the inverse of its top k × k block, so data shards are stored verbatim and any k shards
 * recover the rest. This is the construction of Backblaze JavaReedSolomon and klauspost/reedsolomon's default, so
 * parity is byte-compatible with theirs (known-answer tests guard it). Up to k + m = 256 shards.
 *
 * Kernels: 'portable' (table-driven TypeScript, the reference) and 'wasm-simd' (split-nibble tables with
 * i8x16.swizzle, or i8x16.relaxed_swizzle where the engine has relaxed SIMD: Node 22+, or Node 20 started with
 * --experimental-wasm-relaxed-simd). When k and m are even the parity rows of this construction are made of 2 × 2
 * blocks [[a, b], [b, a]], and when they are multiples of 4 of 4 × 4 blocks with entry (r, c) = g[r XOR c]; wasm-simd
 * then multiplies with 3 (resp. 9) lookups per block instead of 4 (resp. 16), an exact rewrite that yields the same
 * bytes. createCodec's `kernel` picks one; 'auto' (the default) takes wasm-simd when the
 * embedded module validates and portable otherwise, while forcing a kernel that cannot run throws KernelUnavailable.
 * availableKernels()/bestKernel() tell callers (e.g. an env override in bin/) what they may ask for.
 *
 * The SIMD kernel copies shards through its WebAssembly memory in slices of at most 256 KiB per shard, so copies and
 * compute stay in cache; each codec owns its memory, so use one codec per thread. To skip those copies, fill the
 * shards returned by codec.allocateShards(shardBytes), which live in that memory, and encode them where they are
 * (one set per codec at a time). No I/O, timers or logging here.
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
  blockBytesOf,
  encodedStripeBytes,
  fullStripeBytes,
  join,
  objectLayout,
  split,
  stripeBlocks,
  stripeBlockSizeBytes,
  stripeDataBytes,
  stripeObjectOffsetBytes,
  stripeShardOffsetBytes,
  stripesForRange,
} from './layout.js';
export type { ObjectLayout, StripeRange } from './layout.js';
