import { ShardStoreError } from './shard-store-error.js';

/** One LevelDB operation of a metadata batch: keys and values are always bytes. */
export type MetadataOp = { type: 'put'; key: Buffer; value: Buffer } | { type: 'del'; key: Buffer };

/** The operations of one caller's batch, in the order they must apply. */
export class MetadataBatch {
  readonly ops: MetadataOp[] = [];
  /**
   * Changes this batch makes to buckets' usage counts (usage-rows.ts), by bucket: the writer turns them
   * into the buckets' counter rows when the batch is submitted, so the counts change in the same write.
   */
  usage: Map<string, UsageDelta> | undefined;

  /** Number of operations so far. */
  get length(): number {
    return this.ops.length;
  }

  /** Adds a put. */
  put(key: Buffer, value: Buffer): this {
    this.ops.push({ type: 'put', key, value });
    return this;
  }

  /** Adds a delete. */
  del(key: Buffer): this {
    this.ops.push({ type: 'del', key });
    return this;
  }

  /** Adds `objects` stored versions and `bytes` logical bytes (either may be negative) to a bucket's usage count. */
  count(bucket: string, objects: number, bytes: number): this {
    if (objects === 0 && bytes === 0) return this;
    this.usage ??= new Map();
    const delta = this.usage.get(bucket) ?? { objects: 0, bytes: 0 };
    this.usage.set(bucket, { objects: delta.objects + objects, bytes: delta.bytes + bytes });
    return this;
  }
}

/** A change to one bucket's usage count. */
export interface UsageDelta {
  objects: number;
  bytes: number;
}

/** The database call the writer makes: one atomic batch, synced or not. */
export type WriteOps = (ops: MetadataOp[], sync: boolean) => Promise<void>;

/** A metadata write refused because an earlier one failed: the node must restart before it writes again. */
export class MetadataWriteFenced extends ShardStoreError<'WriteFenced'> {
  constructor() {
    super('WriteFenced', 'metadata writes are stopped after a failed write; restart the node once the disk is healthy');
  }
}

interface Waiter {
  ops: MetadataOp[];
  /** Whether the caller needs the write synced before it resolves. */
  durable: boolean;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit: every metadata write of a node goes through here, and concurrent writes share one
 * synced LevelDB write, as a database shares its log fsync. A write submitted while none is in flight
 * goes at once; those submitted while one is in flight wait for it, then go together as one batch,
 * their operations in submission order (so a put and a later delete of one key across callers end as
 * they would have one after the other). Each caller's promise settles when its group's write does:
 * resolved means durable. No timer delays a write; the fsync a write already waits for is the window.
 *
 * Fencing: after one write fails (a full disk, an I/O error) every later write is refused until the
 * node restarts, since LevelDB's log may hold a torn record after which recovery drops everything. The
 * whole failed group fails with the error, and whatever queued behind it is refused without being
 * written. A write refused because the database is not open is not a disk failure and fences nothing.
 */
export class GroupCommitWriter {
  private readonly writeOps: WriteOps;
  private readonly sync: boolean;
  private queue: Waiter[] = [];
  private flushing: Promise<void> | null = null;
  private failures = 0;
  private batches = 0;
  private levelWrites = 0;
  /** Told how long each synced LevelDB write took, in seconds (the node's fsync latency). */
  syncObserver: ((seconds: number) => void) | undefined;

  constructor(writeOps: WriteOps, sync: boolean) {
    this.writeOps = writeOps;
    this.sync = sync;
  }

  /** LevelDB writes that failed since start; any makes the writer refuse writes. */
  get failureCount(): number {
    return this.failures;
  }

  /** Batches submitted and LevelDB writes issued since start. */
  get counts(): { batches: number; levelWrites: number } {
    return { batches: this.batches, levelWrites: this.levelWrites };
  }

  /**
   * Writes a batch with whatever else is waiting; resolves once it is durable (when syncing). A write
   * that is not `durable` is synced only if its group holds a durable one; it is ordered in LevelDB's
   * log all the same, so the next synced write makes it durable too.
   */
  write(batch: MetadataBatch, durable = true): Promise<void> {
    if (this.failures > 0) return Promise.reject(new MetadataWriteFenced());
    this.batches += 1;
    if (batch.length === 0) return Promise.resolve();
    const done = new Promise<void>((resolve, reject) => {
      this.queue.push({ ops: batch.ops, durable, resolve, reject });
    });
    this.flushing ??= this.drain();
    return done;
  }

  /** Resolves once every write submitted so far has settled (for closing the database). */
  async idle(): Promise<void> {
    while (this.flushing !== null) await this.flushing;
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const group = this.queue;
        this.queue = [];
        if (this.failures > 0) {
          for (const waiter of group) waiter.reject(new MetadataWriteFenced());
          continue;
        }
        await this.writeGroup(group);
      }
    } finally {
      this.flushing = null;
    }
  }

  private async writeGroup(group: Waiter[]): Promise<void> {
    const ops = group.length === 1 ? (group[0] as Waiter).ops : group.flatMap((waiter) => waiter.ops);
    this.levelWrites += 1;
    const synced = this.sync && group.some((waiter) => waiter.durable);
    const startedMs = synced && this.syncObserver !== undefined ? performance.now() : 0;
    try {
      await this.writeOps(ops, synced);
      if (startedMs > 0) this.syncObserver?.((performance.now() - startedMs) / 1000);
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'LEVEL_DATABASE_NOT_OPEN') this.failures += 1;
      for (const waiter of group) waiter.reject(err);
      return;
    }
    for (const waiter of group) waiter.resolve();
  }
}
