import { repairByAugmentingPaths } from './augmenting-repair.js';
import type { RepairableTable } from './augmenting-repair.js';
import { fillFreshTable } from './fresh-fill.js';
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
  /** True when the table starts empty: it is then filled row by row (see fresh-fill.ts). */
  fresh: boolean;
}

// Caps the row scans of the path repair so a pathological cluster degrades balance, not build time.
const REPAIR_BUDGET_ROWS = 3_000_000;
// Receivers with equal deficits are picked in random order. A fixed order would pair the same
// nodes in partition after partition (A with B, C with D, ...), which concentrates repair load
// when one fails and leaves later changes few ways to move slots. Under one slot, so it never
// overrides a real difference in urgency.
const JITTER_SLOTS = 0.99;

/**
 * Moves table slots from nodes above quota (donors, and empty slots) to nodes below quota
 * (receivers), one slot per move, never putting a node twice in a partition or a zone above its
 * cap. Slots that already sit on a node within quota are never touched, which is what keeps a
 * ring change close to the minimum movement: every move both fills a deficit and drains an excess.
 */
export class SlotAssigner implements RepairableTable {
  /** Current slots per node. */
  readonly count: Int32Array;
  /** Shard slots per partition. */
  readonly replicas: number;
  /** Number of partitions. */
  readonly partitions: number;
  /**
   * The table being assigned, changed in place. The fresh fill swaps in a scratch table whose rows
   * are in visiting order while it runs (see fresh-fill.ts), and puts this one back.
   */
  table: Int32Array;
  /** The table as given, to tell moves from slots left in place. */
  readonly original: Int32Array;
  /** Zone index per node. */
  readonly zoneOf: Int32Array;
  /** Most members per zone in one partition. */
  readonly zoneCaps: Int32Array;
  /** Partition visiting order. */
  readonly order: Int32Array;
  /** Slots per node and shard index: held[x * replicas + i]. */
  private readonly held: Int32Array;
  private readonly quota: Int32Array;
  private readonly ranks: Uint32Array;
  private readonly random: SeededRandom;
  private readonly fresh: boolean;
  private readonly zoneCount: Int32Array;
  private readonly unvisited: Int32Array;
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

  /** Counts the table as given; the caller has already emptied slots that must move. */
  constructor(input: AssignerInput) {
    this.replicas = input.replicas;
    this.partitions = input.partitions;
    this.table = input.table;
    this.original = input.table.slice();
    this.quota = input.quota;
    this.zoneOf = input.zoneOf;
    this.zoneCaps = input.zoneCaps;
    this.ranks = input.ranks;
    this.order = input.order;
    this.random = input.random;
    this.fresh = input.fresh;
    const nodeCount = input.quota.length;
    const zoneCount = input.zoneCaps.length;
    this.count = new Int32Array(nodeCount);
    this.held = new Int32Array(nodeCount * this.replicas);
    for (let base = 0; base < input.table.length; base += this.replicas) {
      for (let i = 0; i < this.replicas; i++) {
        const x = input.table[base + i]!;
        if (x < 0) continue;
        this.count[x]! += 1;
        this.held[x * this.replicas + i]! += 1;
      }
    }
    this.nodeKey = new Float64Array(nodeCount);
    this.zoneKey = new Float64Array(zoneCount);
    this.zoneQuota = new Int32Array(zoneCount);
    this.zoneDeficit = new Int32Array(zoneCount);
    this.zoneCount = new Int32Array(zoneCount);
    this.unvisited = new Int32Array(nodeCount);
    const zoneSizes = new Int32Array(zoneCount);
    for (let x = 0; x < nodeCount; x++) {
      const z = this.zoneOf[x]!;
      if (z < 0) continue;
      zoneSizes[z]! += 1;
      this.zoneQuota[z]! += this.quota[x]!;
      this.zoneCount[z]! += this.count[x]!;
    }
    const nodeSlots = new Int32Array(nodeCount).fill(-1);
    this.nodeHeaps = Array.from(zoneSizes, (size) => new IndexedHeap(size, this.nodeKey, this.ranks, nodeSlots));
    this.zoneHeap = new IndexedHeap(zoneCount, this.zoneKey, input.zoneRanks, new Int32Array(zoneCount).fill(-1));
    this.zoneScratch = new Int32Array(zoneCount);
    this.zoneStack = new Int32Array(zoneCount);
    this.nodeStack = new Int32Array(Math.max(1, ...zoneSizes));
    for (let x = 0; x < nodeCount; x++) if (this.zoneOf[x]! >= 0) this.refresh(x, 0, 0);
  }

  /** Greedy fill or passes, then path repair for what the greedy left stuck, then any remaining empty slots. */
  run(): void {
    if (this.fresh) {
      fillFreshTable(this);
    } else {
      this.pass(true);
      this.pass(false);
    }
    repairByAugmentingPaths(this, REPAIR_BUDGET_ROWS);
    this.fillEmpty();
  }

  /** Slots node x still needs. */
  deficit(x: number): number {
    return Math.max(0, this.quota[x]! - this.count[x]!);
  }

  /** Slots the nodes of zone z still need. */
  zoneDeficitOf(z: number): number {
    return this.zoneDeficit[z]!;
  }

  /** Nodes below quota, most urgent first. */
  receivers(): number[] {
    const out: number[] = [];
    for (let x = 0; x < this.quota.length; x++) if (this.zoneOf[x]! >= 0 && this.deficit(x) > 0) out.push(x);
    return out.sort((a, b) => this.nodeKey[b]! - this.nodeKey[a]! || this.ranks[a]! - this.ranks[b]! || a - b);
  }

  private jitter(): number {
    return (this.random.nextUint32() / 4294967296) * JITTER_SLOTS;
  }

  /**
   * How urgently node x needs slots. A fresh table fills every node in proportion to its quota
   * (the most behind first), so heavy nodes do not all land in the first partitions together;
   * fresh-fill.ts separately forces in whatever could otherwise no longer fit. On a rebuild rows
   * are visited in random order and a node already in c of P rows can enter only about P - c of
   * the rest.
   */
  private nodeUrgency(x: number): number {
    const d = this.deficit(x) + this.jitter();
    return d / (this.fresh ? this.quota[x]! : Math.max(1, this.partitions - this.count[x]!));
  }

  /**
   * The same for a zone, which can put at most cap members in a row. On a rebuild, its own need
   * or its most urgent node's, whichever is larger, so a zone holding one node that must be in
   * every row is picked for every row even when the zone as a whole looks well supplied.
   */
  private zoneUrgency(z: number): number {
    const d = this.zoneDeficit[z]! + this.jitter();
    if (this.fresh) return d / this.zoneQuota[z]!;
    const own = d / Math.max(1, this.zoneCaps[z]! * this.partitions - this.zoneCount[z]!);
    const top = this.nodeHeaps[z]!.peek();
    return top < 0 ? own : Math.max(own, this.nodeKey[top]!);
  }

  /** Re-keys node x (and its zone) in the receiver heaps after its count changed by `delta` from `before` deficit. */
  private refresh(x: number, before: number, delta: number): void {
    const after = this.deficit(x);
    const z = this.zoneOf[x]!;
    this.zoneCount[z]! += delta;
    if (after === before && this.fresh) return;
    this.zoneDeficit[z]! += after - before;
    this.totalDeficit += after - before;
    const heap = this.nodeHeaps[z]!;
    if (after > 0) {
      this.nodeKey[x] = this.nodeUrgency(x);
      if (heap.has(x)) heap.lowered(x);
      else heap.push(x);
    } else {
      heap.remove(x);
    }
    const zoneDeficit = this.zoneDeficit[z]!;
    if (zoneDeficit > 0) {
      this.zoneKey[z] = this.zoneUrgency(z);
      if (this.zoneHeap.has(z)) this.zoneHeap.lowered(z);
      else this.zoneHeap.push(z);
    } else {
      this.zoneHeap.remove(z);
    }
  }

  /** Puts x at slot base + i, updating counts and receiver heaps; the previous occupant loses the slot. */
  place(base: number, i: number, x: number): void {
    const old = this.table[base + i]!;
    this.table[base + i] = x;
    this.held[x * this.replicas + i]! += 1;
    if (old >= 0) this.held[old * this.replicas + i]! -= 1;
    const beforeX = this.deficit(x);
    this.count[x]! += 1;
    this.refresh(x, beforeX, 1);
    if (old >= 0) {
      const beforeOld = this.deficit(old);
      this.count[old]! -= 1;
      this.refresh(old, beforeOld, -1);
    }
  }

  /** True when x holds a slot of the row starting at base. */
  rowHas(base: number, x: number): boolean {
    for (let j = 0; j < this.replicas; j++) if (this.table[base + j] === x) return true;
    return false;
  }

  /** Members of zone z in the row, not counting position `skip` (-1 counts them all). */
  zoneCountExcept(base: number, skip: number, z: number): number {
    let c = 0;
    for (let j = 0; j < this.replicas; j++) {
      const x = this.table[base + j]!;
      if (j !== skip && x >= 0 && this.zoneOf[x] === z) c++;
    }
    return c;
  }

  /**
   * Empty slots first, then the donor whose excess is largest against the unvisited rows that
   * still hold it: a donor that runs out of rows before shedding its excess strands a receiver.
   */
  private excessRank(x: number): number {
    if (x < 0) return Number.POSITIVE_INFINITY;
    return (this.count[x]! - this.quota[x]!) / (this.unvisited[x]! + 1);
  }

  /** True for an empty slot (-1) or a node above quota. */
  needsMove(x: number): boolean {
    return x < 0 || this.count[x]! > this.quota[x]!;
  }

  /**
   * The best receiver that may take position `skip` of the row: zone with the largest urgency
   * among zones under their cap, then its most urgent node not already in the row. -1 if none fits.
   */
  pickReceiver(base: number, skip: number): number {
    const { table, zoneOf, zoneScratch } = this;
    // The top zone usually fits and its top node is usually not in the row: answer from the heap
    // tops without popping (the heaps are totally ordered, so this picks what popping would).
    const top = this.zoneHeap.peek();
    if (top < 0) return -1;
    if (this.zoneCountExcept(base, skip, top) < this.zoneCaps[top]!) {
      const found = this.pickFromZone(top, base);
      if (found >= 0) return found;
    }
    for (let j = 0; j < this.replicas; j++) {
      const x = table[base + j]!;
      if (j !== skip && x >= 0) zoneScratch[zoneOf[x]!]! += 1;
    }
    // Otherwise pop zones in order until one fits and has a node not in the row.
    let found = -1;
    let zonesPopped = 0;
    this.zoneStack[zonesPopped++] = this.zoneHeap.pop();
    while (found < 0 && this.zoneHeap.size > 0) {
      const z = this.zoneHeap.pop();
      this.zoneStack[zonesPopped++] = z;
      if (zoneScratch[z]! < this.zoneCaps[z]!) found = this.pickFromZone(z, base);
    }
    for (let k = 0; k < zonesPopped; k++) this.zoneHeap.push(this.zoneStack[k]!);
    for (let j = 0; j < this.replicas; j++) {
      const x = table[base + j]!;
      if (x >= 0) zoneScratch[zoneOf[x]!] = 0;
    }
    return found;
  }

  /** The most urgent receiver of zone z that is not in the row, or -1. */
  pickFromZone(z: number, base: number): number {
    const heap = this.nodeHeaps[z]!;
    const top = heap.peek();
    if (top >= 0 && !this.rowHas(base, top)) return top;
    let found = -1;
    let popped = 0;
    while (found < 0 && heap.size > 0) {
      const x = heap.pop();
      this.nodeStack[popped++] = x;
      if (!this.rowHas(base, x)) found = x;
    }
    for (let k = 0; k < popped; k++) heap.push(this.nodeStack[k]!);
    return found;
  }

  /**
   * Visits every partition once, moving slots from occupants that must go to the most urgent
   * receivers. A strict pass only makes moves that also bring zones toward their quotas (see
   * zoneGain); the relaxed pass after it takes what is left.
   */
  private pass(strict: boolean): void {
    const tried = new Uint8Array(this.replicas);
    this.unvisited.set(this.count);
    for (const p of this.order) {
      if (this.totalDeficit === 0) return;
      const base = p * this.replicas;
      for (let j = 0; j < this.replicas; j++) {
        const x = this.table[base + j]!;
        if (x >= 0) this.unvisited[x]! -= 1;
      }
      tried.fill(0);
      for (;;) {
        // The slot whose occupant most needs to go: empty first, then the largest relative excess.
        let i = -1;
        let most = 0;
        for (let j = 0; j < this.replicas; j++) {
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
        const at = x < 0 ? -1 : this.slotFor(base, i, x, strict);
        if (at < 0) tried[i] = 1;
        else this.place(base, at, x);
      }
    }
  }

  /**
   * How moving one slot from the occupant's zone to x's zone changes the zones' distance from
   * their quotas: +2 helps both, -2 hurts both, 0 within a zone. When a zone must grow (say a node
   * joined it and its cap allows more), filling its new node by evicting its own members first
   * uses up the node's quota in partitions where the zone was already full, and the partitions
   * where the zone is short then need two moves each.
   */
  private zoneGain(x: number, occupant: number): number {
    const zx = this.zoneOf[x]!;
    const zo = occupant < 0 ? -1 : this.zoneOf[occupant]!;
    if (zx === zo) return 0;
    const gain = this.zoneQuota[zx]! > this.zoneCount[zx]! ? 1 : -1;
    return zo < 0 ? gain : gain + (this.zoneQuota[zo]! < this.zoneCount[zo]! ? 1 : -1);
  }

  /**
   * Which of the row's slots that must move x should take: the best zone gain, then the shard
   * index x holds least often (so rebuilds keep shard 0, and every index, spread in proportion to
   * each node's slots), then the occupant with the most excess. -1 if strict and no slot both
   * fits x and keeps zones on course.
   */
  private slotFor(base: number, fallback: number, x: number, strict: boolean): number {
    const n = this.replicas;
    const zx = this.zoneOf[x]!;
    let best = -1;
    let bestGain = 0;
    for (let j = 0; j < n; j++) {
      const occupant = this.table[base + j]!;
      if (j !== fallback && (!this.needsMove(occupant) || this.zoneCountExcept(base, j, zx) >= this.zoneCaps[zx]!)) continue;
      const gain = this.zoneGain(x, occupant);
      let better = best < 0 || gain > bestGain;
      if (!better && gain === bestGain) {
        const held = this.held[x * n + j]!;
        const bestHeld = this.held[x * n + best]!;
        better = held < bestHeld || (held === bestHeld && this.excessRank(occupant) > this.excessRank(this.table[base + best]!));
      }
      if (better) {
        best = j;
        bestGain = gain;
      }
    }
    if (strict && (bestGain < 0 || (bestGain === 0 && this.zoneQuota[zx]! > this.zoneCount[zx]! && this.zoneOf[this.table[base + best]!] === zx))) {
      return -1;
    }
    return best;
  }

  /** Last resort for empty slots: the least-filled node that fits, breaking the zone cap only if nothing else fits. */
  private fillEmpty(): void {
    for (let base = 0; base < this.table.length; base += this.replicas) {
      for (let i = 0; i < this.replicas; i++) {
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
