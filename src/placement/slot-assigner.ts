import { IndexedHeap } from './indexed-heap.js';
import type { SeededRandom } from './seeded-random.js';

/** What the assigner works on; `table` is partitions x replicas node indices, -1 for an empty slot. */
export interface AssignerInput {
  replicas: number;
  partitions: number;
  table: Int32Array;
  quota: Int32Array;
  zoneOf: Int32Array;
  zoneCaps: Int32Array;
  ranks: Uint32Array;
  zoneRanks: Uint32Array;
  /** Partition visiting order (a seeded permutation), so donors give up slots evenly across the table. */
  order: Int32Array;
  random: SeededRandom;
}

// Caps the row scans of the two-hop repair so a pathological cluster degrades balance, not build time.
const REPAIR_BUDGET_ROWS = 4_000_000;
const REPAIR_CANDIDATES = 8;
// Receivers within this many slots of deficit of each other are picked in random order. Strict
// order would pair the same nodes in partition after partition (A with B, C with D, ...), which
// concentrates repair load when one fails and leaves later changes few ways to move slots.
const JITTER_SLOTS = 4;

/**
 * Moves table slots from nodes above quota (donors, and empty slots) to nodes below quota
 * (receivers), one slot per move, never putting a node twice in a partition or a zone above its
 * cap. Slots that already sit on a node within quota are never touched, which is what keeps a
 * ring change close to the minimum movement: every move both fills a deficit and drains an excess.
 */
export class SlotAssigner {
  /** Current slots per node. */
  readonly count: Int32Array;
  /** Slots per node and shard index: held[x * replicas + i]. */
  private readonly held: Int32Array;
  private readonly n: number;
  private readonly partitions: number;
  private readonly table: Int32Array;
  private readonly quota: Int32Array;
  private readonly zoneOf: Int32Array;
  private readonly zoneCaps: Int32Array;
  private readonly ranks: Uint32Array;
  private readonly order: Int32Array;
  private readonly random: SeededRandom;
  private readonly nodeKey: Float64Array;
  private readonly zoneKey: Float64Array;
  private readonly zoneQuota: Int32Array;
  private readonly zoneDeficit: Int32Array;
  private readonly zoneHeap: IndexedHeap;
  private readonly nodeHeaps: IndexedHeap[];
  private readonly zoneScratch: Int32Array;
  private readonly zoneStack: Int32Array;
  private readonly nodeStack: Int32Array;
  private totalDeficit = 0;
  private repairBudget = REPAIR_BUDGET_ROWS;
  private repairCursor = 0;

  /** Counts the table as given; the caller has already emptied slots that must move. */
  constructor(input: AssignerInput) {
    this.n = input.replicas;
    this.partitions = input.partitions;
    this.table = input.table;
    this.quota = input.quota;
    this.zoneOf = input.zoneOf;
    this.zoneCaps = input.zoneCaps;
    this.ranks = input.ranks;
    this.order = input.order;
    this.random = input.random;
    const nodeCount = input.quota.length;
    const zoneCount = input.zoneCaps.length;
    this.count = new Int32Array(nodeCount);
    this.held = new Int32Array(nodeCount * this.n);
    input.table.forEach((x, slot) => {
      if (x < 0) return;
      this.count[x]! += 1;
      this.held[x * this.n + (slot % this.n)]! += 1;
    });
    this.nodeKey = new Float64Array(nodeCount);
    this.zoneKey = new Float64Array(zoneCount);
    this.zoneQuota = new Int32Array(zoneCount);
    this.zoneDeficit = new Int32Array(zoneCount);
    const zoneSizes = new Int32Array(zoneCount);
    for (let x = 0; x < nodeCount; x++) {
      const z = this.zoneOf[x]!;
      if (z < 0) continue;
      zoneSizes[z]! += 1;
      this.zoneQuota[z]! += this.quota[x]!;
    }
    const nodeSlots = new Int32Array(nodeCount).fill(-1);
    this.nodeHeaps = Array.from(zoneSizes, (size) => new IndexedHeap(size, this.nodeKey, this.ranks, nodeSlots));
    this.zoneHeap = new IndexedHeap(zoneCount, this.zoneKey, input.zoneRanks, new Int32Array(zoneCount).fill(-1));
    this.zoneScratch = new Int32Array(zoneCount);
    this.zoneStack = new Int32Array(zoneCount);
    this.nodeStack = new Int32Array(Math.max(1, ...zoneSizes));
    for (let x = 0; x < nodeCount; x++) if (this.zoneOf[x]! >= 0) this.refresh(x, 0);
  }

  /** Greedy passes, then two-hop repair for what the greedy left stuck, then any remaining empty slots. */
  run(): void {
    this.pass();
    this.pass();
    this.repair();
    this.fillEmpty();
  }

  private jitter(): number {
    return (this.random.nextUint32() / 4294967296) * JITTER_SLOTS;
  }

  private deficit(x: number): number {
    return Math.max(0, this.quota[x]! - this.count[x]!);
  }

  /** Re-keys node x (and its zone) in the receiver heaps after its count changed from `before` deficit. */
  private refresh(x: number, before: number): void {
    const after = this.deficit(x);
    if (after === before) return;
    const z = this.zoneOf[x]!;
    this.zoneDeficit[z]! += after - before;
    this.totalDeficit += after - before;
    const heap = this.nodeHeaps[z]!;
    if (after > 0) {
      this.nodeKey[x] = (after + this.jitter()) / this.quota[x]!;
      if (heap.has(x)) heap.update(x);
      else heap.push(x);
    } else {
      heap.remove(x);
    }
    const zoneDeficit = this.zoneDeficit[z]!;
    if (zoneDeficit > 0) {
      this.zoneKey[z] = (zoneDeficit + this.jitter()) / this.zoneQuota[z]!;
      if (this.zoneHeap.has(z)) this.zoneHeap.update(z);
      else this.zoneHeap.push(z);
    } else {
      this.zoneHeap.remove(z);
    }
  }

  private place(base: number, i: number, x: number): void {
    const old = this.table[base + i]!;
    this.table[base + i] = x;
    this.held[x * this.n + i]! += 1;
    if (old >= 0) this.held[old * this.n + i]! -= 1;
    const beforeX = this.deficit(x);
    this.count[x]! += 1;
    this.refresh(x, beforeX);
    if (old >= 0) {
      const beforeOld = this.deficit(old);
      this.count[old]! -= 1;
      this.refresh(old, beforeOld);
    }
  }

  private rowHas(base: number, x: number): boolean {
    for (let j = 0; j < this.n; j++) if (this.table[base + j] === x) return true;
    return false;
  }

  /** Members of zone z in the row, not counting position `skip`. */
  private zoneCountExcept(base: number, skip: number, z: number): number {
    let c = 0;
    for (let j = 0; j < this.n; j++) {
      const x = this.table[base + j]!;
      if (j !== skip && x >= 0 && this.zoneOf[x] === z) c++;
    }
    return c;
  }

  /** Donors with the largest relative excess give first; empty slots before anyone. */
  private excessRank(x: number): number {
    if (x < 0) return Number.POSITIVE_INFINITY;
    const q = this.quota[x]!;
    return q === 0 ? Number.MAX_VALUE : (this.count[x]! - q) / q;
  }

  private needsMove(x: number): boolean {
    return x < 0 || this.count[x]! > this.quota[x]!;
  }

  /**
   * The best receiver that may take position `skip` of the row: zone with the largest relative
   * deficit among zones under their cap, then its node with the largest relative deficit that is
   * not already in the row. -1 if none fits.
   */
  private pickReceiver(base: number, skip: number): number {
    const { table, zoneOf, zoneScratch } = this;
    for (let j = 0; j < this.n; j++) {
      const x = table[base + j]!;
      if (j !== skip && x >= 0) zoneScratch[zoneOf[x]!]! += 1;
    }
    let found = -1;
    let zonesPopped = 0;
    while (found < 0 && this.zoneHeap.size > 0) {
      const z = this.zoneHeap.pop();
      this.zoneStack[zonesPopped++] = z;
      if (zoneScratch[z]! >= this.zoneCaps[z]!) continue;
      const heap = this.nodeHeaps[z]!;
      let nodesPopped = 0;
      while (heap.size > 0) {
        const x = heap.pop();
        this.nodeStack[nodesPopped++] = x;
        if (!this.rowHas(base, x)) {
          found = x;
          break;
        }
      }
      for (let k = 0; k < nodesPopped; k++) heap.push(this.nodeStack[k]!);
    }
    for (let k = 0; k < zonesPopped; k++) this.zoneHeap.push(this.zoneStack[k]!);
    for (let j = 0; j < this.n; j++) {
      const x = table[base + j]!;
      if (x >= 0) zoneScratch[zoneOf[x]!] = 0;
    }
    return found;
  }

  private pass(): void {
    const tried = new Uint8Array(this.n);
    for (const p of this.order) {
      if (this.totalDeficit === 0) return;
      const base = p * this.n;
      tried.fill(0);
      for (;;) {
        // The slot whose occupant most needs to go: empty first, then the largest relative excess.
        let i = -1;
        let most = 0;
        for (let j = 0; j < this.n; j++) {
          const occupant = this.table[base + j]!;
          if (tried[j] || !this.needsMove(occupant)) continue;
          const rank = this.excessRank(occupant);
          if (i < 0 || rank > most) {
            i = j;
            most = rank;
          }
        }
        if (i < 0) break;
        const x = this.pickReceiver(base, i);
        if (x < 0) tried[i] = 1;
        else this.place(base, this.shardIndexFor(base, i, x), x);
      }
    }
  }

  /**
   * Of the row's slots that must move anyway and that x may take, the shard index x holds least
   * often, so rebuilds keep shard 0 (and every index) spread in proportion to each node's slots.
   */
  private shardIndexFor(base: number, fallback: number, x: number): number {
    const n = this.n;
    const zx = this.zoneOf[x]!;
    let best = fallback;
    for (let j = 0; j < n; j++) {
      if (j === fallback) continue;
      const occupant = this.table[base + j]!;
      if (!this.needsMove(occupant) || this.zoneCountExcept(base, j, zx) >= this.zoneCaps[zx]!) continue;
      const held = this.held[x * n + j]!;
      const bestHeld = this.held[x * n + best]!;
      if (held < bestHeld || (held === bestHeld && this.excessRank(occupant) > this.excessRank(this.table[base + best]!))) {
        best = j;
      }
    }
    return best;
  }

  /** Where no receiver fits a slot directly, route through a third node: it moves into the slot and the receiver takes its place elsewhere. */
  private repair(): void {
    for (const p of this.order) {
      const base = p * this.n;
      for (let i = 0; i < this.n; i++) {
        if (this.totalDeficit === 0 || this.repairBudget <= 0) return;
        if (!this.needsMove(this.table[base + i]!)) continue;
        const x = this.pickReceiver(base, i);
        if (x >= 0) this.place(base, i, x);
        else this.twoHop(base, i);
      }
    }
  }

  private twoHop(base: number, i: number): boolean {
    const receivers: number[] = [];
    for (let x = 0; x < this.quota.length; x++) if (this.zoneOf[x]! >= 0 && this.deficit(x) > 0) receivers.push(x);
    receivers.sort((a, b) => this.nodeKey[b]! - this.nodeKey[a]! || this.ranks[a]! - this.ranks[b]! || a - b);
    for (const x of receivers.slice(0, REPAIR_CANDIDATES)) {
      const zx = this.zoneOf[x]!;
      for (let t = 0; t < this.partitions; t++) {
        if (--this.repairBudget <= 0) return false;
        const q = this.order[(this.repairCursor + t) % this.partitions]!;
        const bq = q * this.n;
        if (bq === base || this.rowHas(bq, x)) continue;
        const inZone = this.zoneCountExcept(bq, -1, zx);
        for (let j = 0; j < this.n; j++) {
          const y = this.table[bq + j]!;
          if (y < 0) continue;
          const zy = this.zoneOf[y]!;
          if (inZone - (zy === zx ? 1 : 0) >= this.zoneCaps[zx]!) continue;
          if (this.rowHas(base, y) || this.zoneCountExcept(base, i, zy) >= this.zoneCaps[zy]!) continue;
          this.place(bq, j, x);
          this.place(base, i, y);
          this.repairCursor = (this.repairCursor + t + 1) % this.partitions;
          return true;
        }
      }
    }
    return false;
  }

  /** Last resort for empty slots: the least-filled node that fits, breaking the zone cap only if nothing else fits. */
  private fillEmpty(): void {
    for (let base = 0; base < this.table.length; base += this.n) {
      for (let i = 0; i < this.n; i++) {
        if (this.table[base + i]! >= 0) continue;
        let best = -1;
        let bestFits = false;
        let bestLoad = 0;
        for (let x = 0; x < this.quota.length; x++) {
          const z = this.zoneOf[x]!;
          if (z < 0 || this.rowHas(base, x)) continue;
          const fits = this.zoneCountExcept(base, i, z) < this.zoneCaps[z]!;
          const q = this.quota[x]!;
          const load = q === 0 ? Number.MAX_VALUE : this.count[x]! / q;
          if (best < 0 || (fits && !bestFits) || (fits === bestFits && load < bestLoad)) {
            best = x;
            bestFits = fits;
            bestLoad = load;
          }
        }
        if (best >= 0) this.place(base, i, best);
      }
    }
  }
}
