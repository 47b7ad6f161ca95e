import { checkShape, zoneSpreadLimit } from './ring.js';
import type { RingNode } from './ring.js';

/** Zones of the nodes that can hold data (weight > 0) and how many members each may put in a partition. */
export interface ClusterLayout {
  /** Names of zones with at least one weighted node, sorted. */
  zones: string[];
  /** Zone index per node (same order as the node list); -1 for weight-0 nodes, which hold nothing. */
  zoneOf: Int32Array;
  /** Weighted nodes per zone. */
  zoneSizes: Int32Array;
  /** Most members of each zone one partition may hold. */
  zoneCaps: Int32Array;
}

/**
 * Zone caps are ceil(n / zones), except where a zone has fewer nodes than that; then the
 * shortfall goes, one member at a time, to the zones with the most spare nodes, so the ring
 * stays as spread as the cluster allows instead of refusing to build.
 */
export function clusterLayout(nodes: readonly RingNode[], replicas: number): ClusterLayout {
  const zones = [...new Set(nodes.filter((node) => node.weight > 0).map((node) => node.zone))].sort();
  const zoneIndex = new Map(zones.map((zone, i) => [zone, i]));
  const zoneOf = Int32Array.from(nodes, (node) => (node.weight > 0 ? zoneIndex.get(node.zone)! : -1));
  const zoneSizes = new Int32Array(zones.length);
  for (const z of zoneOf) if (z >= 0) zoneSizes[z]! += 1;
  const limit = zoneSpreadLimit(replicas, zones.length);
  const zoneCaps = zoneSizes.map((size) => Math.min(limit, size));
  let total = zoneCaps.reduce((sum, cap) => sum + cap, 0);
  while (total < replicas) {
    let best = -1;
    for (let z = 0; z < zones.length; z++) {
      const spare = zoneSizes[z]! - zoneCaps[z]!;
      if (spare > 0 && (best < 0 || spare > zoneSizes[best]! - zoneCaps[best]!)) best = z;
    }
    if (best < 0) break;
    zoneCaps[best]! += 1;
    total += 1;
  }
  return { zones, zoneOf, zoneSizes, zoneCaps };
}

/** Splits `total` over `ids` in proportion to weight, no id above its cap, spilling the excess onto the rest. */
function waterFill(ids: readonly number[], weights: ArrayLike<number>, caps: ArrayLike<number>, total: number, out: Float64Array): void {
  let open = ids.filter((i) => weights[i]! > 0);
  for (const i of ids) out[i] = 0;
  let remaining = total;
  while (open.length > 0) {
    let weightSum = 0;
    for (const i of open) weightSum += weights[i]!;
    const still: number[] = [];
    let spilled = 0;
    for (const i of open) {
      const share = (remaining * weights[i]!) / weightSum;
      if (share >= caps[i]!) {
        out[i] = caps[i]!;
        spilled += caps[i]!;
      } else {
        still.push(i);
      }
    }
    if (spilled === 0) {
      for (const i of open) out[i] = (remaining * weights[i]!) / weightSum;
      return;
    }
    remaining -= spilled;
    open = still;
  }
}

/**
 * Rounds real targets to integers summing to `total`, each the floor or the ceiling of its
 * target. The round-ups go first to ids that already hold more than the floor (keeping a slot
 * you have costs no move; taking one from a holder to give it to someone else costs two), then
 * by largest remainder, then by seeded rank. So an unchanged cluster rebuilds with no moves and
 * a change moves no slot just because rounding shifted.
 */
function roundTargets(
  ids: readonly number[],
  targets: Float64Array,
  caps: ArrayLike<number>,
  total: number,
  previous: ArrayLike<number>,
  ranks: ArrayLike<number>,
  out: Int32Array,
): void {
  let assigned = 0;
  for (const i of ids) {
    out[i] = Math.floor(targets[i]!);
    assigned += out[i]!;
  }
  // Quantised so float noise in otherwise equal shares does not decide the order.
  const remainder = (i: number): number => Math.round((targets[i]! - out[i]!) * 1e9);
  const holds = (i: number): number => (previous[i]! > out[i]! && remainder(i) > 0 ? 1 : 0);
  const order = ids
    .filter((i) => out[i]! < caps[i]!)
    .sort((a, b) => holds(b) - holds(a) || remainder(b) - remainder(a) || ranks[a]! - ranks[b]! || a - b);
  for (let k = 0; assigned < total && k < order.length; k++) {
    out[order[k]!]! += 1;
    assigned += 1;
  }
}

function zoneMembers(layout: ClusterLayout): number[][] {
  const members = layout.zones.map((): number[] => []);
  layout.zoneOf.forEach((z, i) => {
    if (z >= 0) members[z]!.push(i);
  });
  return members;
}

function zoneWeights(nodes: readonly RingNode[], layout: ClusterLayout): Float64Array {
  const weights = new Float64Array(layout.zones.length);
  layout.zoneOf.forEach((z, i) => {
    if (z >= 0) weights[z]! += nodes[i]!.weight;
  });
  return weights;
}

/**
 * Each node's fair number of slots (replicas x partitions split by weight), within what zone
 * spread allows: a zone never gets more than cap x partitions, nor a node more than one slot
 * per partition. Real-valued: the yardstick for balance. Aligned with `nodes`.
 */
export function slotTargets(nodes: readonly RingNode[], replicas: number, partitionBits: number): number[] {
  checkShape(replicas, partitionBits);
  return Array.from(realTargets(nodes, clusterLayout(nodes, replicas), replicas, 2 ** partitionBits));
}

/** Real-valued per-node targets for a layout. */
export function realTargets(nodes: readonly RingNode[], layout: ClusterLayout, replicas: number, partitions: number): Float64Array {
  const zoneIds = layout.zones.map((_, z) => z);
  const zoneTargets = new Float64Array(zoneIds.length);
  const zoneCapSlots = Array.from(layout.zoneCaps, (cap) => cap * partitions);
  waterFill(zoneIds, zoneWeights(nodes, layout), zoneCapSlots, replicas * partitions, zoneTargets);
  const weights = nodes.map((node) => node.weight);
  const nodeCaps = nodes.map(() => partitions);
  const out = new Float64Array(nodes.length);
  zoneMembers(layout).forEach((ids, z) => waterFill(ids, weights, nodeCaps, zoneTargets[z]!, out));
  return out;
}

/**
 * Integer slot quotas summing exactly to replicas x partitions: zones are rounded first, so
 * zone caps hold, then nodes within each zone. `previous` counts and seeded `ranks` break ties.
 */
export function integerQuotas(
  nodes: readonly RingNode[],
  layout: ClusterLayout,
  replicas: number,
  partitions: number,
  previous: Int32Array,
  ranks: Uint32Array,
  zoneRanks: Uint32Array,
): Int32Array {
  const zoneCount = layout.zones.length;
  const zoneIds = Array.from({ length: zoneCount }, (_, z) => z);
  const zoneCapSlots = Array.from(layout.zoneCaps, (cap) => cap * partitions);
  const zoneReal = new Float64Array(zoneCount);
  waterFill(zoneIds, zoneWeights(nodes, layout), zoneCapSlots, replicas * partitions, zoneReal);
  const zonePrevious = new Int32Array(zoneCount);
  layout.zoneOf.forEach((z, i) => {
    if (z >= 0) zonePrevious[z]! += previous[i]!;
  });
  const zoneQuota = new Int32Array(zoneCount);
  roundTargets(zoneIds, zoneReal, zoneCapSlots, replicas * partitions, zonePrevious, zoneRanks, zoneQuota);

  const weights = nodes.map((node) => node.weight);
  const nodeCaps = nodes.map(() => partitions);
  const nodeReal = new Float64Array(nodes.length);
  const quota = new Int32Array(nodes.length);
  zoneMembers(layout).forEach((ids, z) => {
    waterFill(ids, weights, nodeCaps, zoneQuota[z]!, nodeReal);
    roundTargets(ids, nodeReal, nodeCaps, zoneQuota[z]!, previous, ranks, quota);
  });
  return quota;
}
