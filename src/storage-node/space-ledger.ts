import { ShardStoreError } from './shard-store-error.js';

/** The free-space reserve a node keeps on its disk, and how it reads the disk's free bytes. */
export interface DiskReserve {
  /** Bytes the node never fills: room for LevelDB and recovery. */
  reserveBytes: number;
  /** The file system's free bytes (statfs). */
  readFreeBytes(): Promise<number>;
  clock: () => number;
  /** A reading older than this is refreshed; default DEFAULT_DISK_REFRESH_MS. */
  refreshEveryMs?: number;
  /** A reading is refreshed once shard writes have taken this many bytes since; default an eighth of the reserve. */
  refreshEveryBytes?: number;
}

/** How old a free-space reading may get before the next shard write refreshes it. */
export const DEFAULT_DISK_REFRESH_MS = 1000;
/** Least bytes between readings, so a tiny reserve does not mean a statfs per shard. */
const MIN_REFRESH_BYTES = 64 * 1024;

interface DiskReading {
  freeBytes: number;
  atMs: number;
  /** The ledger's takenBytes when the reading was asked for. */
  takenBefore: number;
  /** Bytes of unfinished writes then: some may be on disk already, so this counts them twice, erring safe. */
  inFlightBefore: number;
}

/**
 * Space a node may still fill: an optional capacity limit on the shard bytes it holds (a quota, so a
 * node can be given less room than its disk, and tests can fill a node without filling the machine),
 * and, with a reserve, an estimate of the disk's free bytes.
 *
 * The estimate is a statfs reading minus what shard writes have taken since it was asked for (and
 * minus the bytes writes had in flight then), so the node's own writes are counted at once and exactly,
 * and one reading serves many writes: it is refreshed when it is older than `refreshEveryMs` or writes
 * have taken `refreshEveryBytes` since, in the background while the estimate still has room, and
 * waited for when the estimate has none (the disk may have room again: files were dropped or time
 * passed). What others write to the disk, and LevelDB's own growth, show at the next reading; the
 * reserve, which exists for LevelDB and recovery, absorbs them meanwhile. A write is refused as soon as
 * the estimate would go below the reserve, mid-stream too.
 */
export class SpaceLedger {
  /** The limit; null when only the disk limits the node. */
  readonly limitBytes: number | null;
  private readonly disk: DiskReserve | null;
  private readonly refreshEveryMs: number;
  private readonly refreshEveryBytes: number;
  private used = 0;
  private inFlight = 0;
  /** Every byte shard writes have taken since start, kept or not. */
  private takenBytes = 0;
  private releasedSinceReading = false;
  private reading: DiskReading | null = null;
  private refreshing: Promise<void> | null = null;

  constructor(limitBytes: number | null, disk: DiskReserve | null = null) {
    this.limitBytes = limitBytes;
    this.disk = disk !== null && disk.reserveBytes > 0 ? disk : null;
    this.refreshEveryMs = disk?.refreshEveryMs ?? DEFAULT_DISK_REFRESH_MS;
    this.refreshEveryBytes = disk?.refreshEveryBytes ?? Math.max(MIN_REFRESH_BYTES, Math.floor((disk?.reserveBytes ?? 0) / 8));
  }

  /** Shard bytes held or being written (only counted when a limit is set). */
  get usedBytes(): number {
    return this.used;
  }

  /** Bytes of shard writes that have not finished. */
  get inFlightBytes(): number {
    return this.inFlight;
  }

  /** Sets the total after start-up recovery has counted what is stored. */
  reset(usedBytes: number): void {
    this.used = usedBytes;
  }

  /**
   * Starts one shard write; throws NoSpace when the disk estimate leaves no room above the reserve.
   * Reads the disk only for the first write and when the estimate is stale or full.
   */
  async claim(): Promise<SpaceClaim> {
    if (this.disk !== null) {
      if (this.reading === null) await this.refresh();
      else if (this.isStale()) void this.refresh().catch(() => undefined);
      if (this.roomBytes() <= 0 && (this.releasedSinceReading || this.isStale())) await this.refresh();
      if (this.roomBytes() <= 0) throw new ShardStoreError('NoSpace', 'not enough free space for a new shard');
    }
    return new SpaceClaim(this);
  }

  /** Returns bytes of a stored shard that was dropped. */
  release(bytes: number): void {
    if (this.limitBytes !== null) this.used = Math.max(0, this.used - bytes);
    if (bytes > 0) this.releasedSinceReading = true;
  }

  /** Called by SpaceClaim only: throws NoSpace, taking nothing, when `bytes` pass the limit or the reserve. */
  take(bytes: number): void {
    if (this.limitBytes !== null && this.used + bytes > this.limitBytes) throw new ShardStoreError('NoSpace', 'node capacity limit reached');
    if (this.disk !== null) {
      if (this.roomBytes() < bytes) throw new ShardStoreError('NoSpace', 'shard would eat into the free-space reserve');
      // A long write must not run on an old reading either; the check above uses the current estimate meanwhile.
      if (this.isStale()) void this.refresh().catch(() => undefined);
    }
    this.adjust(bytes, bytes);
    this.takenBytes += bytes;
  }

  /** Called by SpaceClaim only: ends a write that took `bytes`; a write not kept removed what it wrote. */
  settle(bytes: number, kept: boolean): void {
    this.adjust(kept ? 0 : -bytes, -bytes);
    if (!kept && bytes > 0) this.releasedSinceReading = true;
  }

  private adjust(usedDelta: number, inFlightDelta: number): void {
    if (this.limitBytes !== null) this.used = Math.max(0, this.used + usedDelta);
    this.inFlight = Math.max(0, this.inFlight + inFlightDelta);
  }

  /** Estimated free bytes above the reserve; Infinity without a reserve. */
  private roomBytes(): number {
    if (this.disk === null) return Number.POSITIVE_INFINITY;
    const reading = this.reading;
    if (reading === null) return 0;
    return reading.freeBytes - reading.inFlightBefore - (this.takenBytes - reading.takenBefore) - this.disk.reserveBytes;
  }

  private isStale(): boolean {
    const reading = this.reading;
    if (reading === null || this.disk === null) return true;
    // A clock that jumped back counts as time passed, so it cannot keep a reading alive.
    return Math.abs(this.disk.clock() - reading.atMs) >= this.refreshEveryMs || this.takenBytes - reading.takenBefore >= this.refreshEveryBytes;
  }

  /** Takes a new reading; concurrent callers share the one in progress. */
  private refresh(): Promise<void> {
    this.refreshing ??= this.read().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private async read(): Promise<void> {
    const disk = this.disk;
    if (disk === null) return;
    const takenBefore = this.takenBytes;
    const inFlightBefore = this.inFlight;
    const releasedBefore = this.releasedSinceReading;
    this.releasedSinceReading = false;
    try {
      const freeBytes = await disk.readFreeBytes();
      this.reading = { freeBytes, atMs: disk.clock(), takenBefore, inFlightBefore };
    } catch (err) {
      this.releasedSinceReading ||= releasedBefore;
      throw err;
    }
  }
}

/** The bytes one shard write has taken so far; settled once when the write ends. */
export class SpaceClaim {
  private readonly ledger: SpaceLedger;
  private claimed = 0;

  constructor(ledger: SpaceLedger) {
    this.ledger = ledger;
  }

  /** Takes bytes as they arrive; throws NoSpace, taking nothing, when they pass the limit or the reserve. */
  take(bytes: number): void {
    this.ledger.take(bytes);
    this.claimed += bytes;
  }

  /** Ends the write: its bytes stay counted as stored when `kept`, else they are returned. Later calls change nothing. */
  settle(kept: boolean): void {
    this.ledger.settle(this.claimed, kept);
    this.claimed = 0;
  }
}
