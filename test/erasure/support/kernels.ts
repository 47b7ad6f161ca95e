import { availableKernels, createCodec, detectKernelSupport, type Codec } from '../../../src/erasure/index.js';

/** One way of running the codec: a kernel plus, for wasm-simd, the swizzle flavour. */
export interface KernelVariant {
  readonly label: string;
  readonly create: (dataShards: number, parityShards: number) => Codec;
}

/** Every kernel and flavour this runtime can run; portable first, as the reference. */
export function kernelVariants(): KernelVariant[] {
  const variants: KernelVariant[] = [];
  for (const kernel of availableKernels()) {
    if (kernel === 'portable') {
      variants.push({ label: 'portable', create: (k, m) => createCodec({ dataShards: k, parityShards: m, kernel }) });
    } else {
      variants.push({
        label: 'wasm-simd',
        create: (k, m) => createCodec({ dataShards: k, parityShards: m, kernel, relaxedSimd: false }),
      });
      if (detectKernelSupport().relaxedSimd) {
        variants.push({
          label: 'wasm-simd-relaxed',
          create: (k, m) => createCodec({ dataShards: k, parityShards: m, kernel, relaxedSimd: true }),
        });
      }
    }
  }
  return variants;
}

/** Deterministic pseudo-random bytes (xorshift32). */
export function pseudoRandomBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = (seed >>> 0) || 0x9e3779b9;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** k data shards of random bytes followed by m zeroed parity shards. */
export function randomStripe(k: number, m: number, shardBytes: number, seed: number): Uint8Array[] {
  const shards: Uint8Array[] = [];
  for (let i = 0; i < k; i++) shards.push(pseudoRandomBytes(shardBytes, seed * 1000 + i + 1));
  for (let i = 0; i < m; i++) shards.push(new Uint8Array(shardBytes));
  return shards;
}

/** Byte-for-byte equality with a readable failure. */
export function sameBytes(a: Uint8Array | null | undefined, b: Uint8Array | null | undefined): boolean {
  if (a == null || b == null || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
