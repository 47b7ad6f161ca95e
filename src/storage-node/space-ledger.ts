import { ShardStoreError } from './shard-store-error.js';

/**
 * Shard bytes a node holds against an optional capacity limit. The limit is a quota the store enforces
 * while a shard streams in, so a node can be given less room than its disk has (and tests can fill a
 * node without filling the machine); a real full disk is caught separately, by ENOSPC.
 */
export class SpaceLedger {
  /** The limit; null when only the disk limits the node. */
  readonly limitBytes: number | null;
  private used = 0;

  constructor(limitBytes: number | null) {
    this.limitBytes = limitBytes;
  }

  /** Shard bytes held or being written (only counted when a limit is set). */
  get usedBytes(): number {
    return this.used;
  }

  /** Sets the total after start-up recovery has counted what is stored. */
  reset(usedBytes: number): void {
    this.used = usedBytes;
  }

  /** Claims bytes for a shard being written; throws NoSpace, claiming nothing, when they do not fit. */
  take(bytes: number): void {
    if (this.limitBytes === null) return;
    if (this.used + bytes > this.limitBytes) throw new ShardStoreError('NoSpace', 'node capacity limit reached');
    this.used += bytes;
  }

  /** Returns bytes of a shard that was dropped or never finished. */
  release(bytes: number): void {
    if (this.limitBytes === null) return;
    this.used = Math.max(0, this.used - bytes);
  }
}
