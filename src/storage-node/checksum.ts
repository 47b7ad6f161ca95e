import xxhash from 'xxhash-wasm';

/** xxhash64 of a byte range, as the shard format stores it (seed 0). */
export interface BlockHasher {
  (bytes: Uint8Array): bigint;
  /**
   * The same hash over several ranges taken as one, without joining them (a chunk that arrived in
   * pieces). Optional: without it, callers join the pieces into scratch memory first.
   */
  pieces?: (parts: readonly Uint8Array[]) => bigint;
}

/** Loads the xxhash64 WebAssembly module once per node; every shard read and write uses the returned function. */
export async function loadBlockHasher(): Promise<BlockHasher> {
  const { h64Raw, create64 } = await xxhash();
  const hash: BlockHasher = (bytes) => h64Raw(bytes, 0n);
  hash.pieces = (parts) => {
    const state = create64(0n);
    for (const part of parts) state.update(part);
    return state.digest();
  };
  return hash;
}
