import { ShardStoreError } from './shard-store-error.js';

/**
 * Space a node may still fill: an optional capacity limit on the shard bytes it holds (a quota, so a
 * node can be given less room than its disk, and tests can fill a node without filling the machine),
 * and the bytes of shard writes in flight, which a per-write disk budget must count because statfs
 * only sees what has reached the disk.
 */
export class SpaceLedger {
  /** The limit; null when only the disk limits the node. */
  readonly limitBytes: number | null;
  private used = 0;
  private inFlight = 0;

  constructor(limitBytes: number | null) {
    this.limitBytes = limitBytes;
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
   * Starts one shard write. `budgetBytes` is what the disk may still take from it (free space minus
   * the reserve minus other writes in flight), or null when no reserve is kept.
   */
  claim(budgetBytes: number | null): SpaceClaim {
    return new SpaceClaim(this, budgetBytes);
  }

  /** Returns bytes of a stored shard that was dropped. */
  release(bytes: number): void {
    if (this.limitBytes !== null) this.used = Math.max(0, this.used - bytes);
  }

  /** Called by SpaceClaim only. */
  adjust(usedDelta: number, inFlightDelta: number): void {
    if (this.limitBytes !== null) this.used = Math.max(0, this.used + usedDelta);
    this.inFlight = Math.max(0, this.inFlight + inFlightDelta);
  }
}

/** The bytes one shard write has taken so far; settled once when the write ends. */
export class SpaceClaim {
  private readonly ledger: SpaceLedger;
  private readonly budgetBytes: number | null;
  private claimed = 0;

  constructor(ledger: SpaceLedger, budgetBytes: number | null) {
    this.ledger = ledger;
    this.budgetBytes = budgetBytes;
  }

  /** Takes bytes as they arrive; throws NoSpace, taking nothing, when they pass the limit or the budget. */
  take(bytes: number): void {
    const { limitBytes } = this.ledger;
    if (limitBytes !== null && this.ledger.usedBytes + bytes > limitBytes) throw new ShardStoreError('NoSpace', 'node capacity limit reached');
    if (this.budgetBytes !== null && this.claimed + bytes > this.budgetBytes) {
      throw new ShardStoreError('NoSpace', 'shard would eat into the free-space reserve');
    }
    this.claimed += bytes;
    this.ledger.adjust(bytes, bytes);
  }

  /** Ends the write: its bytes stay counted as stored when `kept`, else they are returned. Later calls change nothing. */
  settle(kept: boolean): void {
    this.ledger.adjust(kept ? 0 : -this.claimed, -this.claimed);
    this.claimed = 0;
  }
}
