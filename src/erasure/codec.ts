import { DecodeMatrixCache } from './decode-matrix-cache.js';
import { ErasureError } from './errors.js';
import type { GfKernel, KernelName } from './kernels/kernel.js';
import { resolveKernel } from './kernels/select.js';
import { invert, multiply, selectRows, systematicEncodeMatrix, type GfMatrix } from './matrix.js';

/** Shape of a codec: k data shards, m parity shards, and the kernel to run on ('auto' picks the fastest). */
export interface CodecOptions {
  dataShards: number;
  parityShards: number;
  kernel?: KernelName | 'auto';
  /** wasm-simd only: use relaxed SIMD when the runtime has it (default true); false forces the standard swizzle. */
  relaxedSimd?: boolean;
}

/** Options of Codec.reconstruct. */
export interface ReconstructOptions {
  /** Rebuild only missing data shards; missing parity shards stay null. */
  dataOnly?: boolean;
  /**
   * Indexes whose arrays are present but whose bytes are not to be trusted (e.g. failed a checksum): they are left
   * out of the sources and rebuilt in place, into the caller's array, instead of into a new one (which also saves
   * the allocation). With dataOnly, parity listed here is left as it is.
   */
  rebuildInPlace?: readonly number[];
}

/** A Reed-Solomon codec for one k + m shape. Not safe to share across worker threads (it owns WASM memory). */
export interface Codec {
  readonly dataShards: number;
  readonly parityShards: number;
  readonly totalShards: number;
  readonly kernel: KernelName;
  /** True when the wasm-simd kernel uses i8x16.relaxed_swizzle. */
  readonly relaxedSimd: boolean;
  /** Fills shards[k..k+m-1] in place from shards[0..k-1]; all k + m shards must exist and have equal lengths. */
  encode(shards: Uint8Array[]): void;
  /** Replaces every null with a rebuilt shard (new arrays) using any k present shards; returns the same array. */
  reconstruct(shards: (Uint8Array | null)[], options?: ReconstructOptions & { dataOnly?: false }): Uint8Array[];
  /** With dataOnly, indexes < k are non-null on return; missing parity shards stay null. */
  reconstruct(shards: (Uint8Array | null)[], options: ReconstructOptions): (Uint8Array | null)[];
  /** True when the parity shards match the data shards. */
  verify(shards: Uint8Array[]): boolean;
  /**
   * Optional fast path: k + m zeroed shards of shardBytes each, placed in the kernel's WebAssembly memory (plain
   * arrays with the portable kernel). Fill the first k and call encode (or verify, reconstruct) on them: the kernel
   * then works on the shards where they are instead of copying them into its memory and the parity back out.
   * Each call replaces the previous set; arrays from an earlier call must no longer be used (they may be detached
   * or share bytes with the new set). Other arrays keep working as before, through copies.
   */
  allocateShards(shardBytes: number): Uint8Array[];
}

// Distinct erasure patterns a codec remembers; a cluster sees few at a time, so this only bounds pathological use.
const DECODE_CACHE_ENTRIES = 1024;
// Verify compares parity in chunks of this size so it needs no shard-sized scratch.
const VERIFY_CHUNK_BYTES = 64 * 1024;

function checkParameters(k: number, m: number): void {
  if (!Number.isInteger(k) || !Number.isInteger(m) || k < 1 || m < 0 || k + m > 256) {
    throw new ErasureError('InvalidCodecParameters', `got dataShards=${k}, parityShards=${m}`);
  }
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

class ReedSolomonCodec implements Codec {
  readonly dataShards: number;
  readonly parityShards: number;
  readonly totalShards: number;
  readonly kernel: KernelName;
  readonly relaxedSimd: boolean;
  readonly #gf: GfKernel;
  readonly #encodeMatrix: GfMatrix;
  readonly #parityRows: Uint8Array;
  readonly #decodeCache = new DecodeMatrixCache(DECODE_CACHE_ENTRIES);

  constructor(options: CodecOptions) {
    const { dataShards: k, parityShards: m } = options;
    checkParameters(k, m);
    this.dataShards = k;
    this.parityShards = m;
    this.totalShards = k + m;
    const resolved = resolveKernel({ kernel: options.kernel ?? 'auto', relaxedSimd: options.relaxedSimd ?? true });
    this.#gf = resolved.kernel;
    this.kernel = resolved.kernel.name;
    this.relaxedSimd = resolved.relaxedSimd;
    this.#encodeMatrix = systematicEncodeMatrix(k, k + m);
    this.#parityRows = this.#encodeMatrix.data.slice(k * k);
  }

  encode(shards: Uint8Array[]): void {
    this.#checkComplete(shards, 'encode');
    if (this.parityShards === 0) return;
    this.#gf.multiply(this.#parityRows, shards.slice(0, this.dataShards), shards.slice(this.dataShards));
  }

  reconstruct(shards: (Uint8Array | null)[], options?: ReconstructOptions): Uint8Array[];
  reconstruct(shards: (Uint8Array | null)[], options: ReconstructOptions): (Uint8Array | null)[];
  reconstruct(shards: (Uint8Array | null)[], options: ReconstructOptions = {}): (Uint8Array | null)[] {
    this.#checkCount(shards);
    const k = this.dataShards;
    const present: number[] = [];
    const targets: number[] = [];
    const inPlace = new Set(options.rebuildInPlace ?? []);
    let length = -1;
    for (let i = 0; i < shards.length; i++) {
      const shard = shards[i];
      if (shard == null || inPlace.has(i)) {
        if (i < k || options.dataOnly !== true) targets.push(i);
        continue;
      }
      if (length === -1) length = shard.length;
      else if (shard.length !== length) {
        throw new ErasureError('ShardSizeMismatch', `shard ${i} has ${shard.length} bytes, shard ${present[0]} has ${length}`);
      }
      present.push(i);
    }
    if (targets.length === 0) return shards;
    if (present.length < k) {
      throw new ErasureError('TooFewShards', `${present.length} of ${this.totalShards} present, ${k} needed`);
    }
    // The first k present shards: data shards come first, so a pattern with lost parity only needs the identity.
    const sources = present.slice(0, k);
    const coefficients = this.#decodeRows(sources, targets);
    const outputs = targets.map((i) => {
      const own = inPlace.has(i) ? shards[i] : null;
      if (own == null) return new Uint8Array(length);
      if (own.length !== length) {
        throw new ErasureError('ShardSizeMismatch', `shard ${i} to rebuild in place has ${own.length} bytes, not ${length}`);
      }
      return own;
    });
    this.#gf.multiply(coefficients, sources.map((i) => shards[i] as Uint8Array), outputs);
    targets.forEach((shardIndex, r) => {
      shards[shardIndex] = outputs[r] as Uint8Array;
    });
    return shards;
  }

  verify(shards: Uint8Array[]): boolean {
    this.#checkComplete(shards, 'verify');
    const k = this.dataShards;
    const m = this.parityShards;
    const length = shards[0]?.length ?? 0;
    const chunkBytes = Math.min(length, VERIFY_CHUNK_BYTES);
    const scratch = Array.from({ length: m }, () => new Uint8Array(chunkBytes));
    for (let start = 0; start < length; start += chunkBytes) {
      const end = Math.min(length, start + chunkBytes);
      const outputs = end - start === chunkBytes ? scratch : scratch.map((s) => s.subarray(0, end - start));
      this.#gf.multiply(this.#parityRows, shards.slice(0, k).map((s) => s.subarray(start, end)), outputs);
      for (let r = 0; r < m; r++) {
        if (!bytesEqual(outputs[r] as Uint8Array, (shards[k + r] as Uint8Array).subarray(start, end))) return false;
      }
    }
    return true;
  }

  allocateShards(shardBytes: number): Uint8Array[] {
    if (!Number.isInteger(shardBytes) || shardBytes < 0) {
      throw new ErasureError('InvalidLayout', `shardBytes must be a non-negative integer, got ${shardBytes}`);
    }
    const n = this.totalShards;
    if (this.#gf.allocate !== undefined) return this.#gf.allocate(n, shardBytes, this.dataShards, this.parityShards);
    return Array.from({ length: n }, () => new Uint8Array(shardBytes));
  }

  // Rows that turn the chosen sources into the targets: encodeRows(targets) × inverse(encodeRows(sources)).
  #decodeRows(sources: readonly number[], targets: readonly number[]): Uint8Array {
    return this.#decodeCache.rows(sources, targets, () => {
      const inverse = invert(selectRows(this.#encodeMatrix, sources));
      return multiply(selectRows(this.#encodeMatrix, targets), inverse).data;
    });
  }

  #checkCount(shards: readonly unknown[]): void {
    if (shards.length !== this.totalShards) {
      throw new ErasureError('ShardCountMismatch', `got ${shards.length} shards, expected ${this.totalShards}`);
    }
  }

  #checkComplete(shards: readonly (Uint8Array | null | undefined)[], operation: string): void {
    this.#checkCount(shards);
    const length = shards[0]?.length ?? 0;
    shards.forEach((shard, i) => {
      if (shard == null) throw new ErasureError('TooFewShards', `${operation} needs every shard, shard ${i} is missing`);
      if (shard.length !== length) {
        throw new ErasureError('ShardSizeMismatch', `shard ${i} has ${shard.length} bytes, shard 0 has ${length}`);
      }
    });
  }
}

/** A codec for k data + m parity shards over GF(2^8) (see index.ts for the construction). */
export function createCodec(options: CodecOptions): Codec {
  return new ReedSolomonCodec(options);
}
