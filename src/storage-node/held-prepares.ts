import type { ShardRef } from '../rpc/index.js';

/** A prepared shard as its row would say, for the caller's own row type (metadata-store.ts). */
export interface HeldPrepare<Prepared> {
  ref: ShardRef;
  prepared: Prepared;
  image: Buffer;
}

/** Bytes an entry costs beyond its image: the map's entry, the ref and the prepared fields. */
const ENTRY_OVERHEAD_BYTES = 256;

/**
 * Prepared inline shards kept in memory between their prepare and their commit instead of as LevelDB
 * rows, keyed as their rows would be. A small write's prepare then costs its node no LevelDB write at
 * all: its commit writes the image with the version's rows in one synced batch, as it already did
 * (carryShardRows). The prepare was unsynced before, so a power cut could already take it back; a
 * crash of the node's process now does too, with the same outcome: that node's commit fails, the
 * write quorum decides, and repair restores the shard where the version was committed. At most
 * `maxBytes` are held; past that, prepares are written as rows as before.
 */
export class HeldPrepares<Prepared> {
  private readonly maxBytes: number;
  private readonly entries = new Map<string, HeldPrepare<Prepared>>();
  private bytes = 0;

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  /** Holds a prepare under `key` (replacing one held there); false when that would pass the bound. */
  hold(key: string, entry: HeldPrepare<Prepared>): boolean {
    const replaced = this.entries.get(key);
    const bytes = this.bytes - (replaced === undefined ? 0 : costOf(replaced)) + costOf(entry);
    if (bytes > this.maxBytes) return false;
    this.entries.set(key, entry);
    this.bytes = bytes;
    return true;
  }

  get(key: string): HeldPrepare<Prepared> | undefined {
    return this.entries.get(key);
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  /** Forgets the prepare held under `key`, once its commit or its drop is written. */
  release(key: string): void {
    const entry = this.entries.get(key);
    if (entry === undefined) return;
    this.entries.delete(key);
    this.bytes -= costOf(entry);
  }

  /** Every prepare held now, in the order they were held (a copy: the caller may release while it walks them). */
  list(): HeldPrepare<Prepared>[] {
    return [...this.entries.values()];
  }

  /** Held prepares and the bytes they count. */
  get size(): { prepares: number; bytes: number } {
    return { prepares: this.entries.size, bytes: this.bytes };
  }
}

function costOf(entry: HeldPrepare<unknown>): number {
  return entry.image.length + ENTRY_OVERHEAD_BYTES;
}
