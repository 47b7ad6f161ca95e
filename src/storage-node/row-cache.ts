import type { MetadataOp } from './group-commit.js';

/** Bytes a cached row costs beyond its key and value: the map entry and the row's objects. */
const ENTRY_OVERHEAD_BYTES = 96;

/**
 * Metadata rows kept in memory (the kinds `cacheable` accepts): a small GET's status call reads a
 * key's committed row and then its inline shard image, a commit the rows its prepare just wrote, and
 * each LevelDB read is a trip through libuv's thread pool and back; a row held here costs none.
 *
 * It is exact, not eventually right: every metadata write of the node goes through the store's one
 * writer, which tells the cache when a write starts (its keys are dropped, so reads during the write
 * go to LevelDB as before) and when it ends (its puts and deletes are kept as the new rows; after a
 * failed write the keys are just dropped). A read that missed may keep what LevelDB answered only if
 * no write started or ended while it ran, so a slow read cannot put back a row a write replaced.
 * Absent rows are kept too (as null): a key's first write looks its key up. Least recently used rows
 * go first once `maxBytes` is reached; 0 keeps nothing.
 */
export class RowCache {
  private readonly maxBytes: number;
  private readonly cacheable: (key: Buffer) => boolean;
  /** Insertion order is use order: a hit moves its row to the end, eviction takes from the front. */
  private readonly rows = new Map<string, Buffer | null>();
  private bytes = 0;
  /** Bumped when a write starts and when it ends: a read that saw it change keeps nothing. */
  private changes = 0;

  constructor(maxBytes: number, cacheable: (key: Buffer) => boolean) {
    this.maxBytes = Math.max(0, maxBytes);
    this.cacheable = cacheable;
  }

  /** The row held for `key`: its value, null when known absent, undefined when not held. */
  get(key: Buffer): Buffer | null | undefined {
    if (this.maxBytes === 0) return undefined;
    const id = key.toString('latin1');
    const value = this.rows.get(id);
    if (value === undefined) return undefined;
    this.rows.delete(id);
    this.rows.set(id, value);
    return value;
  }

  /** Taken before a read of LevelDB, and handed to fill() with what it found. */
  readToken(): number {
    return this.changes;
  }

  /** Keeps what a read of LevelDB found, unless a write started or ended since its token. */
  fill(key: Buffer, value: Buffer | undefined, token: number): void {
    if (token !== this.changes || this.maxBytes === 0 || !this.cacheable(key)) return;
    this.set(key.toString('latin1'), value ?? null);
  }

  /** A write of `ops` is about to be issued: its rows are no longer known. */
  writeStarting(ops: readonly MetadataOp[]): void {
    this.changes += 1;
    if (this.bytes === 0) return;
    for (const op of ops) if (this.cacheable(op.key)) this.remove(op.key.toString('latin1'));
  }

  /** The write of `ops` has ended: its rows are what it wrote, or unknown when it failed. */
  writeEnded(ops: readonly MetadataOp[], ok: boolean): void {
    this.changes += 1;
    if (this.maxBytes === 0) return;
    for (const op of ops) {
      if (!this.cacheable(op.key)) continue;
      const id = op.key.toString('latin1');
      if (!ok) this.remove(id);
      else this.set(id, op.type === 'put' ? op.value : null);
    }
  }

  /** Rows and bytes held, for tests and figures. */
  get size(): { rows: number; bytes: number } {
    return { rows: this.rows.size, bytes: this.bytes };
  }

  private set(id: string, value: Buffer | null): void {
    this.remove(id);
    const cost = costOf(id, value);
    if (cost > this.maxBytes) return;
    this.rows.set(id, value);
    this.bytes += cost;
    for (const [oldest, row] of this.rows) {
      if (this.bytes <= this.maxBytes) break;
      this.rows.delete(oldest);
      this.bytes -= costOf(oldest, row);
    }
  }

  private remove(id: string): void {
    const value = this.rows.get(id);
    if (value === undefined) return;
    this.rows.delete(id);
    this.bytes -= costOf(id, value);
  }
}

function costOf(id: string, value: Buffer | null): number {
  return id.length + (value?.length ?? 0) + ENTRY_OVERHEAD_BYTES;
}
