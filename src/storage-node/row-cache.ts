import { LRUCache } from 'lru-cache';
import type { MetadataOp } from './group-commit.js';

/** Bytes a cached row costs beyond its key and value: the cache's entry and the row's objects. */
const ENTRY_OVERHEAD_BYTES = 96;

/** What the cache holds for a row known to be absent (lru-cache keeps no null). */
const ABSENT = Object.freeze({ absent: true });
type Held = Buffer | typeof ABSENT;
/**
 * Keys whose last write start or end the cache remembers. A read older than the oldest change it has
 * forgotten keeps nothing, so this bounds memory without ever keeping a replaced row.
 */
const MAX_TRACKED_CHANGES = 4096;

/**
 * Metadata rows kept in memory (the kinds `cacheable` accepts): a small GET's status call reads a
 * key's committed row and then its inline shard image, a shard read the row again, and each LevelDB
 * read is a trip through libuv's thread pool and back; a row held here costs none.
 *
 * It is exact, not eventually right: every metadata write of the node goes through the store's one
 * writer, which tells the cache when a write starts (its keys are dropped, so reads during the write
 * go to LevelDB as before) and when it ends (its puts are kept as the new rows; after a failed write
 * the keys are just dropped). A read that missed may keep what LevelDB answered only if no write of
 * its key started or ended while it ran, so a slow read cannot put back a row a write replaced. That
 * is judged key by key (each write's keys are stamped with the change count), not by whether any write
 * ran: on a node under load some write always does, and the reads a commit makes right after its
 * prepare would otherwise never be kept. Rows a read found absent are kept too (as null). Least
 * recently used rows go first once `maxBytes` is reached; 0 keeps nothing.
 */
export class RowCache {
  private readonly cacheable: (key: Buffer) => boolean;
  /** Null when the budget is 0: nothing is kept. */
  private readonly rows: LRUCache<string, Held> | null;
  /** Bumped when a write starts and when it ends: a read keeps nothing of a key stamped later than it began. */
  private changes = 0;
  /** Per cached-kind key written lately, the change count of its last write start or end, oldest first. */
  private readonly stamps = new Map<string, number>();
  /** Reads that began before this change count keep nothing: stamps they would need were forgotten. */
  private forgottenBefore = 0;

  constructor(maxBytes: number, cacheable: (key: Buffer) => boolean) {
    this.cacheable = cacheable;
    this.rows =
      maxBytes > 0
        ? new LRUCache<string, Held>({ maxSize: maxBytes, sizeCalculation: (value, id) => id.length + (value instanceof Buffer ? value.length : 0) + ENTRY_OVERHEAD_BYTES })
        : null;
  }

  /** The row held for `key`: its value, null when known absent, undefined when not held. */
  get(key: Buffer): Buffer | null | undefined {
    const value = this.rows?.get(key.toString('latin1'));
    return value === undefined ? undefined : value instanceof Buffer ? value : null;
  }

  /** Taken before a read of LevelDB, and handed to fill() with what it found. */
  readToken(): number {
    return this.changes;
  }

  /** Keeps what a read of LevelDB found, unless a write of its key started or ended since its token. */
  fill(key: Buffer, value: Buffer | undefined, token: number): void {
    if (this.rows === null || token < this.forgottenBefore || !this.cacheable(key)) return;
    const id = key.toString('latin1');
    if ((this.stamps.get(id) ?? 0) > token) return;
    this.rows.set(id, value === undefined ? ABSENT : owned(value));
  }

  /**
   * A write of `ops` is about to be issued: its rows are no longer known. Returns what writeEnded
   * takes back when the write ends (the ops' cache keys).
   */
  writeStarting(ops: readonly MetadataOp[]): (string | undefined)[] {
    this.changes += 1;
    const ids: (string | undefined)[] = [];
    if (this.rows === null) return ids;
    for (const op of ops) {
      const id = this.cacheable(op.key) ? op.key.toString('latin1') : undefined;
      ids.push(id);
      if (id === undefined) continue;
      this.rows.delete(id);
      this.stamp(id);
    }
    return ids;
  }

  /**
   * The write of `ops` has ended (`ids` from its writeStarting): its puts are the rows now, unless it
   * failed. Deleted rows are only forgotten: knowing them absent is rarely worth their room (a
   * prepared row is never read again once its commit deleted it).
   */
  writeEnded(ops: readonly MetadataOp[], ids: readonly (string | undefined)[], ok: boolean): void {
    this.changes += 1;
    if (this.rows === null) return;
    ops.forEach((op, i) => {
      const id = ids[i];
      if (id === undefined) return;
      this.stamp(id);
      if (ok && op.type === 'put') this.rows?.set(id, owned(op.value));
      else this.rows?.delete(id);
    });
  }

  /** Records that `id` changes now; past MAX_TRACKED_CHANGES the oldest stamp is forgotten, and reads older than it keep nothing. */
  private stamp(id: string): void {
    this.stamps.delete(id);
    this.stamps.set(id, this.changes);
    if (this.stamps.size <= MAX_TRACKED_CHANGES) return;
    const [oldest, stamped] = this.stamps.entries().next().value as [string, number];
    this.stamps.delete(oldest);
    this.forgottenBefore = Math.max(this.forgottenBefore, stamped);
  }

  /** Rows and bytes held, for tests and figures. */
  get size(): { rows: number; bytes: number } {
    return { rows: this.rows?.size ?? 0, bytes: this.rows?.calculatedSize ?? 0 };
  }
}

/**
 * A row value the cache may hold for long: a small Buffer is usually a slice of Node's shared 8 KiB
 * allocation pool, which it would keep alive whole, so such a slice is copied into memory of its own.
 */
function owned(value: Buffer): Buffer {
  if (value.byteOffset === 0 && value.buffer.byteLength === value.length) return value;
  const own = Buffer.allocUnsafeSlow(value.length);
  value.copy(own);
  return own;
}
