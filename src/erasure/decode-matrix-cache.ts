/**
 * Decode matrices by erasure pattern, bounded, least recently used evicted first. A miss inverts a k × k matrix
 * (O(k³) field operations, which for small shards rivals the multiply itself); a cluster sees few patterns at a
 * time, so nearly every call hits and the bound only guards against callers that cycle through many patterns.
 * A hit returns the same array as before, which lets a kernel keep the tables it built for it.
 */
export class DecodeMatrixCache {
  readonly capacityEntries: number;
  // Map iteration order is insertion order; a hit re-inserts its entry, so the first key is the least recently used.
  readonly #entries = new Map<string, Uint8Array>();

  constructor(capacityEntries: number) {
    if (!Number.isSafeInteger(capacityEntries) || capacityEntries < 1) {
      throw new RangeError(`capacityEntries must be a positive integer, got ${capacityEntries}`);
    }
    this.capacityEntries = capacityEntries;
  }

  /** Patterns currently held. */
  get sizeEntries(): number {
    return this.#entries.size;
  }

  /** The rows turning `sources` into `targets` (both ordered shard indexes); `compute` builds them on a miss. */
  rows(sources: readonly number[], targets: readonly number[], compute: () => Uint8Array): Uint8Array {
    const key = `${sources.join(',')}>${targets.join(',')}`;
    const cached = this.#entries.get(key);
    if (cached !== undefined) {
      this.#entries.delete(key);
      this.#entries.set(key, cached);
      return cached;
    }
    const rows = compute();
    if (this.#entries.size >= this.capacityEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done !== true) this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, rows);
    return rows;
  }
}
