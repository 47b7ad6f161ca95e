import { ClassicLevel } from 'classic-level';
import { DEFAULTS } from '../../common/index.js';
import { GroupCommitWriter, type MetadataBatch, type MetadataOp } from '../group-commit.js';
import { ROW } from '../metadata-keys.js';
import { RowCache } from '../row-cache.js';

const CACHED_KINDS = new Set([ROW.object, ROW.inline, ROW.prepared].map((kind) => kind.charCodeAt(0)));

/**
 * The row kinds the row cache keeps: what a read of a key's current version answers from, its committed
 * row and inline shard images, and prepared rows, which their commit reads right after the prepare
 * wrote them (a trip through libuv's pool per shard of every write otherwise; the commit's delete
 * forgets them). Version rows (named versions) are not worth their writes' upkeep.
 */
function isCachedRow(key: Buffer): boolean {
  return CACHED_KINDS.has(key[0] ?? -1);
}

/**
 * The node's LevelDB handle and what every row family writes and reads through: the group-commit
 * writer and the row cache. The families (object-rows.ts and its siblings) hold the rows' meaning.
 */
export class MetadataDb {
  private readonly location: string;
  /**
   * Made by open(), not by the constructor: a classic-level database starts opening as soon as it
   * exists, so a store made and then given up (its owner refused its options) would leave one opening,
   * holding the directory's lock.
   */
  private handle: ClassicLevel<Buffer, Buffer> | undefined;
  private readonly writer: GroupCommitWriter;
  private readonly writeBufferBytes: number;
  /** Rows that reads answer from without LevelDB (row-cache.ts). */
  private readonly rows: RowCache;
  private writeObserver: ((ops: readonly MetadataOp[], sync: boolean) => void) | undefined;
  private usageStage: ((batch: MetadataBatch) => void) | undefined;

  /**
   * `sync: false` skips LevelDB's fsync of each write: for benchmarks only. `rowCacheBytes` bounds the
   * rows kept in memory (DEFAULTS.rowCacheBytes; 0 keeps none); `writeBufferBytes` is LevelDB's write
   * buffer (DEFAULTS.metadataWriteBufferBytes). Nothing touches the disk until open().
   */
  constructor(location: string, options: { sync?: boolean; rowCacheBytes?: number | undefined; writeBufferBytes?: number | undefined } = {}) {
    this.location = location;
    this.writeBufferBytes = options.writeBufferBytes ?? DEFAULTS.metadataWriteBufferBytes;
    this.writer = new GroupCommitWriter((ops, sync) => this.writeBatch(ops, sync), options.sync ?? true);
    this.rows = new RowCache(options.rowCacheBytes ?? DEFAULTS.rowCacheBytes, isCachedRow);
  }

  /** The open database; throws when open() has not run. */
  get db(): ClassicLevel<Buffer, Buffer> {
    if (this.handle === undefined) throw new Error(`the metadata store at ${this.location} was never opened`);
    return this.handle;
  }

  /** Opens the database (creating it when absent); may be called again after a failed open. */
  async open(): Promise<void> {
    this.handle ??= new ClassicLevel<Buffer, Buffer>(this.location, { keyEncoding: 'buffer', valueEncoding: 'buffer', writeBufferSize: this.writeBufferBytes });
    await this.handle.open();
  }

  /** Closes the database once the writes submitted so far have settled (nothing to do if it was never opened). */
  async close(): Promise<void> {
    await this.writer.idle();
    await this.handle?.close();
  }

  /** 'open' or 'closed', for health reports. */
  get status(): 'open' | 'closed' {
    return this.db.status === 'open' ? 'open' : 'closed';
  }

  /** LevelDB writes that failed since start (a full disk or an I/O error), for health reports. */
  get writeFailures(): number {
    return this.writer.failureCount;
  }

  /**
   * Batches callers submitted and LevelDB writes issued since start (each one fsync when syncing), for
   * benchmarks and tests of how writes share a sync.
   */
  get writeCounts(): { batches: number; levelWrites: number } {
    return this.writer.counts;
  }

  /**
   * Hands every LevelDB write done from now on to `observer`, with whether it was synced: what a power
   * cut that loses the unsynced ones would leave, for tests.
   */
  observeWrites(observer: (ops: readonly MetadataOp[], sync: boolean) => void): void {
    this.writeObserver = observer;
  }

  /** Reports the duration of every synced write (seconds) to `observer`: the node's fsync latency. */
  observeSyncedWrites(observer: (seconds: number) => void): void {
    this.writer.syncObserver = observer;
  }

  /** Rows and bytes the row cache holds now. */
  get cachedRows(): { rows: number; bytes: number } {
    return this.rows.size;
  }

  /** A row of a kind the row cache keeps: from it when held, otherwise read and (if still current) kept. */
  async cachedGet(key: Buffer): Promise<Buffer | undefined> {
    const held = this.rows.get(key);
    if (held !== undefined) return held ?? undefined;
    const token = this.rows.readToken();
    const value = await this.db.get(key);
    this.rows.fill(key, value, token);
    return value;
  }

  /**
   * Rows read together: from the row cache when it holds every one, otherwise in one LevelDB read
   * (one snapshot, one trip through libuv's pool) whose rows the cache then keeps.
   */
  async cachedGetMany(keys: Buffer[]): Promise<(Buffer | undefined)[]> {
    const held: (Buffer | undefined)[] = [];
    for (const key of keys) {
      const row = this.rows.get(key);
      if (row === undefined) break;
      held.push(row ?? undefined);
    }
    if (held.length === keys.length) return held;
    const token = this.rows.readToken();
    const values = await this.db.getMany(keys);
    keys.forEach((key, i) => this.rows.fill(key, values[i], token));
    return values;
  }

  /**
   * One LevelDB write of a group. A chained batch, not db.batch(array): measured with classic-level 3,
   * the array form costs about twice the main-thread time per operation (it clones and re-reads every
   * operation object), and a group is dozens of operations.
   */
  private async writeBatch(ops: readonly MetadataOp[], sync: boolean): Promise<void> {
    const batch = this.db.batch();
    try {
      for (const op of ops) {
        if (op.type === 'put') batch.put(op.key, op.value);
        else batch.del(op.key);
      }
    } catch (err) {
      await batch.close();
      throw err;
    }
    const cached = this.rows.writeStarting(ops);
    try {
      await batch.write({ sync });
    } catch (err) {
      this.rows.writeEnded(ops, cached, false);
      throw err;
    }
    this.rows.writeEnded(ops, cached, true);
    this.writeObserver?.(ops, sync);
  }

  /**
   * Every write is synced: an acknowledged prepare, commit or bucket change survives a crash. Writes go
   * through one group-commit writer (group-commit.ts): concurrent batches share one synced LevelDB
   * write, applied in submission order, and each caller's promise settles with its group's write.
   *
   * After one write fails (a full disk, an I/O error) the database refuses every later write until the
   * node restarts, and a write that was already queued behind the failed one is refused without being
   * written. LevelDB keeps accepting writes after a failed log append, but that append may have left a
   * torn record in its log, and on reopening, recovery drops what follows a torn record: writes
   * acknowledged after it would be lost. Reads go on; the node reports itself degraded.
   */
  write(batch: MetadataBatch): Promise<void> {
    this.stageUsage(batch);
    return this.writer.write(batch);
  }

  /** A prepare's write: no fsync of its own, its commit's synced write carries its rows again (ShardRows.putPrepared). */
  writeUnsynced(batch: MetadataBatch): Promise<void> {
    this.stageUsage(batch);
    return this.writer.write(batch, false);
  }

  /**
   * Hands a batch's usage changes to `stage` (UsageRows) as it is submitted: synchronously, so the
   * counter rows it adds follow submission order, which is the order the group-commit writer applies.
   */
  onUsage(stage: (batch: MetadataBatch) => void): void {
    this.usageStage = stage;
  }

  private stageUsage(batch: MetadataBatch): void {
    if (batch.usage !== undefined) this.usageStage?.(batch);
  }

  /** A row the row cache holds: the value, null when it knows the row is absent, undefined when it does not know. */
  heldRow(key: Buffer): Buffer | null | undefined {
    return this.rows.get(key);
  }
}
