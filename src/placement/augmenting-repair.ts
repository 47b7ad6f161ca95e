/** The slot table operations the repair needs; SlotAssigner provides them. */
export interface RepairableTable {
  readonly replicas: number;
  readonly partitions: number;
  /** partitions x replicas node indexes, -1 for an empty slot. */
  readonly table: Int32Array;
  /** The table before this build changed anything: a slot that differs from it is a move. */
  readonly original: Int32Array;
  readonly zoneOf: Int32Array;
  readonly zoneCaps: Int32Array;
  readonly order: Int32Array;
  /** Nodes below quota, most urgent first. */
  receivers(): number[];
  /** True for an empty slot or a node above quota. */
  needsMove(x: number): boolean;
  rowHas(base: number, x: number): boolean;
  /** Puts x at slot base + i; the previous occupant loses the slot. */
  place(base: number, i: number, x: number): void;
}

const MAX_DEPTH = 4;
const MAX_SOURCES = 16;
const MAX_FRONTIER = 48;

interface Terminal {
  node: number;
  slot: number;
  cost: number;
}

/**
 * Finishes what the greedy passes could not: a receiver that fits no slot that must move.
 * Searches alternating paths: the receiver enters some partition, evicting a node that in turn
 * enters another, ... until a node above quota (or an empty slot) is evicted. Every node on the
 * path keeps its count except the two ends. A path's cost is the change in slots differing from
 * the original table, so the search prefers paths that undo this build's own placements (free)
 * over ones that disturb settled data; a direct move costs 1. `budget` bounds row scans.
 */
export function repairByAugmentingPaths(t: RepairableTable, budget: number): void {
  const nodeCount = t.zoneOf.length;
  const cost = new Int32Array(nodeCount);
  const parentSlot = new Int32Array(nodeCount);
  const parentNode = new Int32Array(nodeCount);
  const zoneInRow = (base: number, z: number): number => {
    let c = 0;
    for (let j = 0; j < t.replicas; j++) {
      const x = t.table[base + j]!;
      if (x >= 0 && t.zoneOf[x] === z) c++;
    }
    return c;
  };

  for (;;) {
    const sources = t.receivers().slice(0, MAX_SOURCES);
    if (sources.length === 0 || budget <= 0) return;
    cost.fill(0x3fffffff);
    parentSlot.fill(-1);
    for (const x of sources) cost[x] = 0;
    let frontier = sources;
    let best = null as Terminal | null;
    search: for (let depth = 1; depth <= MAX_DEPTH && frontier.length > 0 && budget > 0; depth++) {
      const next: number[] = [];
      for (const y of frontier.slice(0, MAX_FRONTIER)) {
        const zy = t.zoneOf[y]!;
        for (const p of t.order) {
          if (--budget <= 0) break;
          const base = p * t.replicas;
          if (t.rowHas(base, y)) continue;
          const inZone = zoneInRow(base, zy);
          for (let j = 0; j < t.replicas; j++) {
            const slot = base + j;
            const z = t.table[slot]!;
            if (inZone - (z >= 0 && t.zoneOf[z] === zy ? 1 : 0) >= t.zoneCaps[zy]!) continue;
            const was = t.original[slot]!;
            const c = cost[y]! + (y !== was ? 1 : 0) - (z !== was ? 1 : 0);
            if (t.needsMove(z)) {
              if (!best || c < best.cost) best = { node: y, slot, cost: c };
              // A direct move costs 1; nothing can beat a path that already costs that little.
              if (best.cost <= 1) break search;
            } else if (c < cost[z]!) {
              cost[z] = c;
              parentSlot[z] = slot;
              parentNode[z] = y;
              next.push(z);
            }
          }
        }
      }
      frontier = [...new Set(next)].sort((a, b) => cost[a]! - cost[b]!);
    }
    if (!best || !applyPath(t, best, parentSlot, parentNode)) return;
  }
}

/** Applies the path ending at `end`, re-checking each step; undoes everything if one no longer fits. */
function applyPath(t: RepairableTable, end: Terminal, parentSlot: Int32Array, parentNode: Int32Array): boolean {
  const steps: { slot: number; node: number }[] = [{ slot: end.slot, node: end.node }];
  const seen = new Set<number>([end.node]);
  for (let x = end.node; parentSlot[x]! >= 0; ) {
    const slot = parentSlot[x]!;
    x = parentNode[x]!;
    if (seen.has(x)) return false;
    seen.add(x);
    steps.push({ slot, node: x });
  }
  const undo: { slot: number; node: number }[] = [];
  for (const { slot, node } of steps) {
    const base = slot - (slot % t.replicas);
    if (t.rowHas(base, node) || !fits(t, base, slot - base, node)) {
      for (const back of undo.reverse()) t.place(back.slot - (back.slot % t.replicas), back.slot % t.replicas, back.node);
      return false;
    }
    const previous = t.table[slot]!;
    t.place(base, slot - base, node);
    // Only the first step can fill an empty slot, and place() cannot empty it again; leaving it
    // filled keeps the table valid, and a later path can take the extra slot back.
    if (previous >= 0) undo.push({ slot, node: previous });
  }
  return true;
}

function fits(t: RepairableTable, base: number, skip: number, x: number): boolean {
  const z = t.zoneOf[x]!;
  let c = 0;
  for (let j = 0; j < t.replicas; j++) {
    const y = t.table[base + j]!;
    if (j !== skip && y >= 0 && t.zoneOf[y] === z) c++;
  }
  return c < t.zoneCaps[z]!;
}
