import { TesseraError } from '../common/index.js';
import type { PlacementErrorCode } from './ring.js';

/**
 * A ring's partition table, immutable: partition p's shard i is held by node `nodeIndex(p, i)` of
 * the ring's node list. One 16-bit (32-bit past 65,536 nodes) entry a slot, so 2^20 partitions of
 * 8+4 hold 24 MB instead of a million arrays of twelve strings, and a builder hands over its table
 * without allocating a row.
 */
export class RingTable implements Iterable<readonly string[]> {
  /** Rows: 2^partitionBits. */
  readonly partitions: number;
  /** Entries a row: the shards of a partition. */
  readonly replicas: number;
  readonly #ids: readonly string[];
  readonly #slots: Uint16Array | Uint32Array;

  private constructor(ids: readonly string[], replicas: number, slots: Uint16Array | Uint32Array) {
    this.#ids = Object.freeze([...ids]);
    this.replicas = replicas;
    this.#slots = slots;
    this.partitions = replicas === 0 ? 0 : slots.length / replicas;
    Object.freeze(this);
  }

  /**
   * A table of `ids.length` nodes from row-major node indexes (`indexes[p * replicas + i]`), copied.
   * The caller has checked each index against the node list.
   */
  static fromIndexes(ids: readonly string[], replicas: number, indexes: ArrayLike<number>): RingTable {
    const slots = ids.length <= 0x10000 ? new Uint16Array(indexes.length) : new Uint32Array(indexes.length);
    slots.set(indexes);
    return new RingTable(ids, replicas, slots);
  }

  /** The index in the ring's node list of the node holding partition p's shard i. */
  nodeIndex(partition: number, shard: number): number {
    this.check(partition, shard);
    return this.#slots[partition * this.replicas + shard]!;
  }

  /** The id of the node holding partition p's shard i. */
  nodeId(partition: number, shard: number): string {
    return this.#ids[this.nodeIndex(partition, shard)]!;
  }

  /** Partition p's node ids in shard order, as a new array. */
  row(partition: number): string[] {
    this.check(partition);
    const base = partition * this.replicas;
    const row = new Array<string>(this.replicas);
    for (let i = 0; i < this.replicas; i++) row[i] = this.#ids[this.#slots[base + i]!]!;
    return row;
  }

  /** Every row in partition order, each a new array. */
  *[Symbol.iterator](): IterableIterator<string[]> {
    for (let p = 0; p < this.partitions; p++) yield this.row(p);
  }

  /** Slots each node holds, by node index; with `shard`, only the slots at that shard index. */
  slotCounts(shard?: number): Int32Array {
    const counts = new Int32Array(this.#ids.length);
    if (shard === undefined) {
      for (const x of this.#slots) counts[x]! += 1;
      return counts;
    }
    this.check(0, shard);
    for (let s = shard; s < this.#slots.length; s += this.replicas) counts[this.#slots[s]!]! += 1;
    return counts;
  }

  /** Slots each node id holds. */
  slotsById(): Map<string, number> {
    const counts = this.slotCounts();
    return new Map(this.#ids.map((id, x) => [id, counts[x]!]));
  }

  /** True when both tables give every slot to the same node id. */
  equals(other: RingTable): boolean {
    if (other.partitions !== this.partitions || other.replicas !== this.replicas) return false;
    for (let s = 0; s < this.#slots.length; s++) if (this.#ids[this.#slots[s]!] !== other.#ids[other.#slots[s]!]) return false;
    return true;
  }

  private check(partition: number, shard = 0): void {
    if (!Number.isInteger(partition) || partition < 0 || partition >= this.partitions) {
      throw new TesseraError<PlacementErrorCode>('InvalidPartition', `partition ${partition} is outside 0-${this.partitions - 1}`);
    }
    if (!Number.isInteger(shard) || shard < 0 || shard >= this.replicas) {
      throw new TesseraError<PlacementErrorCode>('InvalidPartition', `shard ${shard} is outside 0-${this.replicas - 1}`);
    }
  }
}
