import xxhash from 'xxhash-wasm';

/** xxhash64 of a byte range, as the shard format stores it (seed 0). */
export type BlockHasher = (bytes: Uint8Array) => bigint;

/** Loads the xxhash64 WebAssembly module once per node; every shard read and write uses the returned function. */
export async function loadBlockHasher(): Promise<BlockHasher> {
  const { h64Raw } = await xxhash();
  return (bytes) => h64Raw(bytes, 0n);
}
